# MAE ViT-H/14 (16 x 16 = 256 patches at 224 px), 300 epochs, batch 4096 (8 x 512): the
# decoder and head follow the encoder.
_base_ = [
    '../_base_/models/mae_vit-base-p16.py',
    '../_base_/datasets/imagenet_mae.py',
    '../_base_/schedules/mae_adamw_coslr.py',
    '../_base_/default_runtime.py',
]
model = dict(backbone=dict(arch='huge', patch_size=14))
train_dataloader = dict(batch_size=512)
train_cfg = dict(max_epochs=300)
custom_hooks = [dict(type='ReconstructionHook', interval=5000)]
