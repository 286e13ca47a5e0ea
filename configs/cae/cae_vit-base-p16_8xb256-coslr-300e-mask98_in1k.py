# CAE ViT-B/16 with 98 of the 196 patches masked, as official CAE's scripts run it
# (--num_mask_patches 98); the config without the suffix masks 75 (the paper's v1, mmpretrain).
_base_ = './cae_vit-base-p16_8xb256-coslr-300e_in1k.py'
model = dict(backbone=dict(mask_ratio=98 / 196))
