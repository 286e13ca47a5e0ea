# CAE ViT-B/16 with 98 of the 196 patches masked, as official CAE's scripts run it
# (--num_mask_patches 98); the config without the suffix masks 75 (the paper's v1, mmpretrain).
# 300 epochs, batch 2048 (8 x 256).
_base_ = [
    '../_base_/models/cae_vit-base-p16.py',
    '../_base_/datasets/imagenet_cae.py',
    '../_base_/schedules/cae_adamw_coslr.py',
    '../_base_/default_runtime.py',
]
model = dict(backbone=dict(mask_ratio=98 / 196))
train_dataloader = dict(batch_size=256)
train_cfg = dict(max_epochs=300)
# warm-up 10 epochs at 300 (official CAE's script)
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0, end=10,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=10,
         convert_to_iter_based=True),
]
