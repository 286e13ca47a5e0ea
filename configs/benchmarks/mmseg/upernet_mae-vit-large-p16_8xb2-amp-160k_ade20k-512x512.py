# The ViT-L/16 variant of upernet_mae-vit-base-p16: 24 blocks of width 1024, features from blocks
# 7, 11, 15, 23 (the same quarters of the depth as 3, 5, 7, 11 of ViT-B); the rest of the recipe
# (512x512, 160k iterations, batch 16, AdamW lr 1e-4, layer decay 0.65, the backbone built as
# mmseg's MAE backbone) unchanged.
_base_ = './upernet_mae-vit-base-p16_8xb2-amp-160k_ade20k-512x512.py'

pretrained_checkpoint = 'work_dirs/mae_vit-large-p16_8xb512-coslr-1600e_in1k/epoch_1600.pth'
model = dict(
    backbone=dict(arch='large', out_indices=(7, 11, 15, 23),
                  init_cfg=dict(checkpoint=pretrained_checkpoint)),
    neck=dict(in_channels=1024),
    decode_head=dict(in_channels=[1024] * 4, channels=1024),
    auxiliary_head=dict(in_channels=1024))
