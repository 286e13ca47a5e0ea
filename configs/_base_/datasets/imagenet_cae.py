# The ImageNet folder of imagenet_mae.py with CAE's crop: RandomResizedCrop(0.08-1), flip.
_base_ = './imagenet_mae.py'
train_pipeline = [
    dict(type='LoadImage'),
    dict(type='RandomResizedCrop', size=224, scale=(0.08, 1.0), interpolation='bicubic'),
    dict(type='mmcv.RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
