# MAE ViT-B/16 on GPUs, the fast settings: bf16 autocast (no loss scaler needed), fused AdamW,
# torch.compile of the model's training forward (masking, encoder, decoder, loss and their
# backward; the optimizer step stays eager, see BaseAlgorithm). Attention runs through
# F.scaled_dot_product_attention (flash kernels on the GPU) in every mimlab ViT. Add
# `--cfg-options model.backbone.with_cp=True` for activation checkpointing when memory, not
# compute, is the limit. Otherwise mae_vit-base-p16_8xb512-coslr-800e_in1k.py.
_base_ = [
    '../_base_/models/mae_vit-base-p16.py',
    '../_base_/datasets/imagenet_mae.py',
    '../_base_/schedules/mae_adamw_coslr.py',
    '../_base_/default_runtime.py',
]
model = dict(compile=True)
optim_wrapper = dict(type='AutocastOptimWrapper', dtype='bfloat16', optimizer=dict(fused=True))
train_dataloader = dict(batch_size=512)
train_cfg = dict(max_epochs=800)
custom_hooks = [dict(type='ReconstructionHook', interval=5000)]
