# PixMIM, ViT-L/16, 300 epochs, batch 4096 (8 x 512): as the ViT-B/16 config.
_base_ = [
    '../_base_/models/mae_vit-base-p16.py',
    '../_base_/datasets/imagenet_simple-resized-crop.py',
    '../_base_/schedules/mae_adamw_coslr.py',
    '../_base_/default_runtime.py',
]
model = dict(backbone=dict(arch='large'), head=dict(low_pass_radius=40))
train_dataloader = dict(batch_size=512)
train_cfg = dict(max_epochs=300)
custom_hooks = [dict(type='ReconstructionHook', interval=5000)]
