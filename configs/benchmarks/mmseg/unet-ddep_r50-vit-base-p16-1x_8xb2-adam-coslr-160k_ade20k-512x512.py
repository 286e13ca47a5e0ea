# Segmentation fine-tuning after DDeP (Brempong et al. 2022) on ADE20K, read by mmseg's own
# ADE20KDataset and scored by its IoUMetric: Adam + cosine decay, pixel-wise cross-entropy,
# random crop 512 x 512 (after mmseg's random rescaling 0.5-2.0) and horizontal flip, as the paper.
# Iterations, batch and lr are mmseg's ADE20K budget and ours (not stated by the paper).
#   Label fractions: python tools/dataset_converters/make_label_splits.py \
#       data/ade/ADEChallengeData2016
#     then --cfg-options train_dataloader.dataset.ann_file=splits/train_10pct_seed0.txt
#   Random decoder (the baseline): --cfg-options model.decode_head.decoder_checkpoint=None
#   Multi-scale (0.5-1.75) + flip evaluation: python tools/test.py CONFIG CKPT --tta
_base_ = [
    '../../_base_/models/unet-ddep_r50-vit-base-p16_mmseg.py', 'mmseg::_base_/datasets/ade20k.py',
    'mmseg::_base_/default_runtime.py', 'mmseg::_base_/schedules/schedule_160k.py'
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
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='RandomResize', scale=(2048, 512), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=(512, 512), cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(batch_size=2, dataset=dict(pipeline=train_pipeline))
optim_wrapper = dict(_delete_=True, type='OptimWrapper', optimizer=dict(type='Adam', lr=6e-5))
param_scheduler = [dict(type='CosineAnnealingLR', eta_min=0.0, begin=0, by_epoch=False)]
