# Fine-tuning after DDeP on Cityscapes (mmseg's CityscapesDataset, 19 classes) with the paper's
# 1024 x 1024 random crops and horizontal flip; Adam + cosine decay over mmseg's 80k iterations.
_base_ = [
    '../../_base_/models/unet-ddep_r50-vit-base-p16_mmseg.py',
    'mmseg::_base_/datasets/cityscapes_1024x1024.py', 'mmseg::_base_/default_runtime.py',
    'mmseg::_base_/schedules/schedule_80k.py'
]
# mimlab's run hooks: weights-only checkpoint loads; per-iteration random seeds and the resume
# checks (exact resume); a checkpoint at the current iteration on SIGTERM / SIGUSR1; images/s and
# the gradient norm in the log; summary.json at the end
default_hooks = dict(safe_checkpoint_loader=dict(type='mimlab.SafeCheckpointLoaderHook'),
                     random_state=dict(type='mimlab.RandomStateHook'),
                     preemption=dict(type='mimlab.PreemptionHook'),
                     train_stats=dict(type='mimlab.TrainStatsHook'),
                     run_summary=dict(type='mimlab.RunSummaryHook'))
# TensorBoard events beside scalars.json, as in mimlab's own default_runtime.py
visualizer = dict(vis_backends=[dict(type='LocalVisBackend'),
                                dict(type='TensorboardVisBackend')])
model = dict(
    data_preprocessor=dict(size=(1024, 1024)),
    backbone=dict(img_size=(1024, 1024)),
    decode_head=dict(num_classes=19),
    test_cfg=dict(crop_size=(1024, 1024), stride=(768, 768)))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomResize', scale=(2048, 1024), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=(1024, 1024), cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(batch_size=1, dataset=dict(pipeline=train_pipeline))
optim_wrapper = dict(_delete_=True, type='OptimWrapper', optimizer=dict(type='Adam', lr=6e-5))
param_scheduler = [dict(type='CosineAnnealingLR', eta_min=0.0, begin=0, by_epoch=False)]
