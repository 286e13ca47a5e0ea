# ViT-L/16 has 24 blocks: the same pattern scaled, blocks 0, 4, 8, 12, 16 plus the last.
_base_ = './mff_mae_vit-base-p16_8xb512-coslr-800e_in1k.py'
model = dict(backbone=dict(arch='large'), fusion_neck=dict(layers=(0, 4, 8, 12, 16)))
