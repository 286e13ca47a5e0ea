# MFF on MAE, ViT-L/16, 300 epochs, batch 4096 (8 x 512): as the ViT-B/16 config.
_base_ = [
    '../_base_/models/mff_vit-base-p16.py',
    '../_base_/datasets/imagenet_simple-resized-crop.py',
    '../_base_/schedules/mae_adamw_coslr.py',
    '../_base_/default_runtime.py',
]
# ViT-L/16 has 24 blocks: the same pattern scaled, blocks 0, 4, 8, 12, 16 plus the last.
model = dict(backbone=dict(arch='large'), fusion_neck=dict(layers=(0, 4, 8, 12, 16)))
train_dataloader = dict(batch_size=512)
train_cfg = dict(max_epochs=300)
custom_hooks = [dict(type='ReconstructionHook', interval=5000)]
