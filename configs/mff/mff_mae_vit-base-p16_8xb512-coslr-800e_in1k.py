# MFF on MAE (Liu et al., ICCV 2023): the decoder sees a softmax-weighted fusion of encoder
# blocks 0, 2, 4, 6, 8 (each through its own linear projection) and the last block.
# Ablations are overrides of model.fusion_neck (see docs/mff.md).
_base_ = '../mae/mae_vit-base-p16_8xb512-coslr-800e_in1k.py'
model = dict(
    fusion_neck=dict(type='MultiLevelFusionNeck', layers=(0, 2, 4, 6, 8), projection='linear',
                     fusion='weighted'))
