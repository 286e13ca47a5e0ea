# The ImageNet classification folder of imagenet_cls.py with official MAE's fine-tuning
# augmentation: timm's create_transform(is_training=True) as main_finetune.py calls it
# (--aa rand-m9-mstd0.5-inc1; random erasing is the model's random_erasing: it works on
# normalised images, after the data preprocessor).
_base_ = './imagenet_cls.py'
train_pipeline = [
    dict(type='LoadImage'),
    dict(type='RandomResizedCrop', size=224, scale=(0.08, 1.0), interpolation='bicubic'),
    dict(type='mmcv.RandomFlip', prob=0.5, direction='horizontal'),
    # fill of the geometric ops: the data preprocessor's mean, as timm does
    dict(type='RandAugment', policy='rand-m9-mstd0.5-inc1', hparams=dict(img_mean=(124, 116, 104))),
    dict(type='PackInputs'),
]
# mixup pairs images within a batch: every batch must be even
train_dataloader = dict(drop_last=True, dataset=dict(pipeline=train_pipeline))
