_base_ = './pixmim_vit-base-p16_8xb512-coslr-800e_in1k.py'
model = dict(backbone=dict(arch='large'))
