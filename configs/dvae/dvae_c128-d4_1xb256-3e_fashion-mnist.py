# Train the demo's small dVAE on Fashion-MNIST: the first 20,000 training images, 3 epochs (234
# steps, about 2 minutes on one CPU thread), Gumbel-softmax with the temperature falling from 1 to
# 1/16 over the run, KL to the uniform prior. The tokenizer is the checkpoint's 'tokenizer.' keys;
# tools/analysis_tools/visualize_tokenizer.py draws its reconstructions.
_base_ = [
    '../_base_/models/dvae_fashion-mnist.py',
    '../_base_/datasets/fashion_mnist_mae.py',
    '../_base_/schedules/adamw_coslr_short.py',
    '../_base_/default_runtime.py',
]
model = dict(type='DVAEPretrain', tokenizer=_base_.tokenizer, kl_weight=1e-3,
             temperature=1.0, temperature_min=1 / 16, anneal_rate=1.2e-2)
optim_wrapper = dict(_delete_=True, type='OptimWrapper',
                     optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.0))
train_dataloader = dict(dataset=dict(indices=20000))
train_cfg = dict(max_epochs=3)
default_hooks = dict(logger=dict(interval=25))
