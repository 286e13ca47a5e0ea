# CAE ViT-B/16 with 98 of the 196 patches masked, as official CAE's scripts run it
# (--num_mask_patches 98); the config without the suffix masks 75 (the paper's v1, mmpretrain).
# 800 epochs, batch 2048 (8 x 256).
_base_ = [
    '../_base_/models/cae_vit-base-p16.py',
    '../_base_/datasets/imagenet_cae.py',
    '../_base_/schedules/cae_adamw_coslr.py',
    '../_base_/default_runtime.py',
]
model = dict(backbone=dict(mask_ratio=98 / 196))
train_dataloader = dict(batch_size=256)
train_cfg = dict(max_epochs=800)
