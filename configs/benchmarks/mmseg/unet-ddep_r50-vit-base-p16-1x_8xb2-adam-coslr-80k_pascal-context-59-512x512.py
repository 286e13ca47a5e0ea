# Fine-tuning after DDeP on Pascal Context (mmseg's PascalContextDataset59, 59 classes) with the
# paper's 512 x 512 random crops and horizontal flip; Adam + cosine decay over mmseg's 80k
# iterations. Data: mmseg's layout under data/VOCdevkit/VOC2010 (see mmseg's dataset docs).
_base_ = [
    '../../_base_/models/unet-ddep_r50-vit-base-p16_mmseg.py',
    'mmseg::_base_/datasets/pascal_context_59.py', 'mmseg::_base_/default_runtime.py',
    'mmseg::_base_/schedules/schedule_80k.py'
]
model = dict(
    data_preprocessor=dict(size=(512, 512)),
    backbone=dict(img_size=(512, 512)),
    decode_head=dict(num_classes=59),
    test_cfg=dict(crop_size=(512, 512), stride=(341, 341)))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='RandomResize', scale=(520, 520), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=(512, 512), cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(batch_size=2, dataset=dict(pipeline=train_pipeline))
optim_wrapper = dict(_delete_=True, type='OptimWrapper', optimizer=dict(type='Adam', lr=6e-5))
param_scheduler = [dict(type='CosineAnnealingLR', eta_min=0.0, begin=0, by_epoch=False)]
