# Linear probing of an MAE ViT-B/16 on ImageNet, MAE's protocol: frozen encoder, cls token,
# BatchNorm without affine parameters + linear layer, LARS at batch 16384 (8 x 2048), lr 6.4,
# no weight decay, random-resized crop + flip only, 90 epochs.
_base_ = [
    '../../_base_/models/vit-base-p16_cls.py',
    '../../_base_/datasets/imagenet_cls.py',
    '../../_base_/schedules/lars_linear_probe.py',
    '../../_base_/default_runtime.py',
]
model = dict(trainable_blocks=0, head=dict(batch_norm=True))
train_pipeline = [
    dict(type='LoadImage'),
    dict(type='RandomResizedCrop', size=224, scale=(0.08, 1.0), interpolation='bicubic'),
    dict(type='mmcv.RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
train_dataloader = dict(batch_size=2048, dataset=dict(pipeline=train_pipeline))
