# MFF on MAE (Liu et al., ICCV 2023), ViT-B/16: the decoder sees a softmax-weighted fusion of
# encoder blocks 0, 2, 4, 6, 8 (each through its own linear projection) and the last block.
# Ablations are overrides of model.fusion_neck (see docs/mff.md).
_base_ = './mae_vit-base-p16.py'
model = dict(
    type='MFF',
    fusion_neck=dict(type='MultiLevelFusionNeck', layers=(0, 2, 4, 6, 8), projection='linear',
                     fusion='weighted'))
