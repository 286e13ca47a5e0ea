# MFF on the demo MAE (6 blocks): fuse blocks 0, 1, 2, 3 (two thirds of the depth, as the
# paper's 0-8 of 12) with the last, same budget as the MAE demo for a side-by-side comparison.
_base_ = '../mae/mae_vit-tiny-p4_1xb256-coslr-6e_fashion-mnist.py'
model = dict(
    type='MFF',
    fusion_neck=dict(type='MultiLevelFusionNeck', layers=(0, 1, 2, 3), projection='linear',
                     fusion='weighted'))
