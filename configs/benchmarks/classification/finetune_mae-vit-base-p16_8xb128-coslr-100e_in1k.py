# End-to-end fine-tuning of an MAE ViT-B/16 on ImageNet, MAE's recipe: batch 1024 (8 x 128),
# AdamW lr 2e-3, layer decay 0.65, drop path 0.1, mixup 0.8, cutmix 1.0, label smoothing 0.1,
# RandAugment m9-mstd0.5-inc1, average-pooled patch tokens, 100 epochs.
# Not reproduced: random erasing (0.25) and MAE's fc_norm (here the pooled tokens have passed
# the encoder's final norm).
_base_ = [
    '../../_base_/models/vit-base-p16_cls.py',
    '../../_base_/datasets/imagenet_cls.py',
    '../../_base_/schedules/adamw_layer_decay_finetune.py',
    '../../_base_/default_runtime.py',
]
model = dict(
    backbone=dict(drop_path_rate=0.1),
    head=dict(pool='avg'),
    mixup=dict(mixup_alpha=0.8, cutmix_alpha=1.0, label_smoothing=0.1),
)
train_pipeline = [
    dict(type='LoadImage'),
    dict(type='RandomResizedCrop', size=224, scale=(0.08, 1.0), interpolation='bicubic'),
    dict(type='mmcv.RandomFlip', prob=0.5, direction='horizontal'),
    # fill of the geometric ops: the data preprocessor's mean, as timm does
    dict(type='RandAugment', policy='rand-m9-mstd0.5-inc1', hparams=dict(img_mean=(124, 116, 104))),
    dict(type='PackInputs'),
]
# mixup pairs images within a batch: every batch must be even
train_dataloader = dict(batch_size=128, drop_last=True, dataset=dict(pipeline=train_pipeline))
