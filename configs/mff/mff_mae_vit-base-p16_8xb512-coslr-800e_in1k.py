# MFF on MAE (Liu et al., ICCV 2023): the decoder sees a softmax-weighted fusion of encoder
# blocks 0, 2, 4, 6, 8 (each through its own linear projection) and the last block.
# Ablations are overrides of model.fusion_neck (see docs/mff.md).
_base_ = '../mae/mae_vit-base-p16_8xb512-coslr-800e_in1k.py'
model = dict(
    type='MFF',
    fusion_neck=dict(type='MultiLevelFusionNeck', layers=(0, 2, 4, 6, 8), projection='linear',
                     fusion='weighted'))
# The official MFF configs (mmpretrain 1.2.0 configs/mff/mff_vit-base-p16_8xb512-amp-coslr-
# {300,800}e_in1k.py, by the MFF authors) replace MAE's RandomResizedCrop(0.2-1) by the simple
# resized crop: short side to 224 (torchvision's Resize, bilinear), reflect-pad 4, random 224
# crop, flip.
train_pipeline = [
    dict(type='LoadImage'),
    dict(type='ResizeShortEdge', size=224, interpolation='bilinear'),
    dict(type='RandomCrop', size=224, padding=4, padding_mode='reflect'),
    dict(type='mmcv.RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
