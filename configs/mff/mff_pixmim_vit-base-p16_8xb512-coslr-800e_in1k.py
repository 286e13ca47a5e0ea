# MFF on PixMIM: the PixMIM recipe plus the fusion neck.
_base_ = '../pixmim/pixmim_vit-base-p16_8xb512-coslr-800e_in1k.py'
model = dict(
    type='MFF',
    fusion_neck=dict(type='MultiLevelFusionNeck', layers=(0, 2, 4, 6, 8), projection='linear',
                     fusion='weighted'))
