# The ImageNet folder of imagenet_mae.py with the simple resized crop of PixMIM and the official
# MFF configs (mmpretrain 1.2.0 configs/mff/mff_vit-base-p16_8xb512-amp-coslr-{300,800}e_in1k.py,
# by the MFF authors) instead of MAE's RandomResizedCrop(0.2-1): short side to 224
# (torchvision's Resize, bilinear), reflect-pad 4, random 224 crop, flip.
_base_ = './imagenet_mae.py'
train_pipeline = [
    dict(type='LoadImage'),
    dict(type='ResizeShortEdge', size=224, interpolation='bilinear'),
    dict(type='RandomCrop', size=224, padding=4, padding_mode='reflect'),
    dict(type='mmcv.RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
