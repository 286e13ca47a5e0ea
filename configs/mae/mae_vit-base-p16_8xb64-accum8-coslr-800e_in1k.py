# MAE ViT-B/16 with the paper's batch of 4096 on 8 devices that hold 64 images each: gradients
# of 8 steps are accumulated before each optimizer step (8 x 64 x 8 = 4096, so the lr stays).
_base_ = [
    '../_base_/models/mae_vit-base-p16.py',
    '../_base_/datasets/imagenet_mae.py',
    '../_base_/schedules/mae_adamw_coslr.py',
    '../_base_/default_runtime.py',
]
train_dataloader = dict(batch_size=64)
optim_wrapper = dict(accumulative_counts=8)
train_cfg = dict(max_epochs=800)
custom_hooks = [dict(type='ReconstructionHook', interval=5000)]
