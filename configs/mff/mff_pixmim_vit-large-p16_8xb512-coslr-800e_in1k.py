_base_ = './mff_pixmim_vit-base-p16_8xb512-coslr-800e_in1k.py'
model = dict(backbone=dict(arch='large'), fusion_neck=dict(layers=(0, 4, 8, 12, 16)))
