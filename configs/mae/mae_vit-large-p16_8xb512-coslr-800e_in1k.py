# MAE ViT-L/16, 800 epochs, batch 4096 (8 x 512): only the encoder changes; the decoder
# and head follow it.
_base_ = [
    '../_base_/models/mae_vit-base-p16.py',
    '../_base_/datasets/imagenet_mae.py',
    '../_base_/schedules/mae_adamw_coslr.py',
    '../_base_/default_runtime.py',
]
model = dict(backbone=dict(arch='large'))
train_dataloader = dict(batch_size=512)
train_cfg = dict(max_epochs=800)
custom_hooks = [dict(type='ReconstructionHook', interval=5000)]
