# Demo-size end-to-end fine-tuning of the `make demo` MAE encoder on Fashion-MNIST with the
# paper's recipe scaled to batch 256 (AdamW lr 1e-3, layer decay 0.65, drop path 0.1, mixup 0.8,
# cutmix 1.0, label smoothing 0.1, RandAugment m9-mstd0.5-inc1), a 20-step warm-up, cosine,
# 5 epochs. Random-init baseline: --cfg-options model.backbone.init_cfg=None.
_base_ = [
    '../../_base_/models/vit-base-p16_cls.py',
    '../../_base_/datasets/fashion_mnist_cls.py',
    '../../_base_/schedules/adamw_layer_decay_finetune.py',
    '../../_base_/default_runtime.py',
]
model = dict(
    backbone=dict(arch=dict(_delete_=True, embed_dim=128, depth=6, num_heads=4), img_size=28,
                  patch_size=4, drop_path_rate=0.1,
                  init_cfg=dict(checkpoint='work_dirs/demo/epoch_6.pth')),
    head=dict(num_classes=10, pool='avg'),
    mixup=dict(mixup_alpha=0.8, cutmix_alpha=1.0, label_smoothing=0.1),
)
train_pipeline = [
    dict(type='LoadImage'),
    dict(type='RandomResizedCrop', size=28, scale=(0.5, 1.0), interpolation='bicubic'),
    dict(type='mmcv.RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandAugment', policy='rand-m9-mstd0.5-inc1', hparams=dict(img_mean=(73, 73, 73))),
    dict(type='PackInputs'),
]
train_dataloader = dict(drop_last=True, dataset=dict(pipeline=train_pipeline))
optim_wrapper = dict(optimizer=dict(lr=1e-3))
# in steps, so that short runs (a subset, one epoch) warm up alike
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=False, begin=0, end=20),
    dict(type='CosineAnnealingLR', eta_min=1e-6, by_epoch=False, begin=20),
]
train_cfg = dict(max_epochs=5, val_interval=1)
auto_scale_lr = dict(base_batch_size=256)
default_hooks = dict(logger=dict(interval=25))
