# Mask R-CNN on COCO with a mimlab MAE encoder, the MAE paper's detection setting (after Li et al.
# 2021, "Benchmarking detection transfer learning with vision transformers"): the ViT's blocks
# 2, 5, 8, 11 rescaled to strides 4..32 (MultiDepthFeaturePyramid) and then an FPN; large-scale
# jitter at 1024x1024 for 100 epochs (mmdet's LSJ Mask R-CNN baseline: 2-conv RPN, 4conv1fc box
# head, SyncBN, batch 64); AdamW lr 1e-4, weight decay 0.1, layer decay 0.7, drop path 0.1 (the
# ViTDet paper's ViT-B values). The encoder reads a mimlab pretraining checkpoint directly.
#   tools/dist_train.sh configs/benchmarks/mmdet/<this file> 8 \
#       --cfg-options model.backbone.init_cfg.checkpoint=CKPT
_base_ = 'mmdet::strong_baselines/mask-rcnn_r50_fpn_rpn-2conv_4conv1fc_syncbn-all_lsj-100e_coco.py'
custom_imports = dict(imports=['mimlab'], allow_failed_imports=False)
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

pretrained_checkpoint = 'work_dirs/mae_vit-base-p16_8xb512-coslr-1600e_in1k/epoch_1600.pth'
image_size = (1024, 1024)
model = dict(
    backbone=dict(
        _delete_=True,
        type='mimlab.VisionTransformer',
        arch='base',
        img_size=image_size,
        patch_size=16,
        # MAE fine-tuning: the pretrained (sin-cos) table, resampled to 1024 px, is learned on
        # (and resampled from there for the test images' other sizes)
        pos_embed_type='learned',
        drop_path_rate=0.1,
        out_indices=(2, 5, 8, 11),
        out_type='featmap',
        init_cfg=dict(type='Pretrained', checkpoint=pretrained_checkpoint, prefix='backbone.')),
    neck=dict(
        _delete_=True,
        type='mimlab.NeckSequence',
        necks=[
            dict(type='mimlab.MultiDepthFeaturePyramid', in_channels=768,
                 norm_cfg=dict(type='SyncBN')),
            dict(type='FPN', in_channels=[768] * 4, out_channels=256, num_outs=5,
                 norm_cfg=dict(type='SyncBN', requires_grad=True)),
        ]))

# The recipe: AdamW as below; mmdet's LSJ schedule (500 warm-up iterations, steps at epochs 22
# and 24) over 25 epochs of the 4 x repeated COCO train set (100 epochs); batch 64 (32 x 2). The
# schedulers keep the _scope_ mmengine gives the entries of an mmdet:: base.
train_dataloader = dict(batch_size=2)
train_cfg = dict(max_epochs=25)
param_scheduler = [
    dict(_scope_='mmdet', type='LinearLR', start_factor=0.067, by_epoch=False, begin=0, end=500),
    dict(_scope_='mmdet', type='MultiStepLR', begin=0, end=25, by_epoch=True, milestones=[22, 24],
         gamma=0.1),
]
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.1),
    constructor='mimlab.LayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(layer_decay_rate=0.7))
