# UperNet on ADE20K with a mimlab MAE encoder: mmseg's own MAE recipe (UPerHead + auxiliary FCN
# head, AdamW lr 1e-4, layer decay 0.65, 160k iterations, batch 16) with the backbone replaced by
# mimlab.VisionTransformer built as mmseg's MAE backbone (per-block relative position bias, zero at
# start; LayerScale initialised at 1.0; no final norm: the pretraining checkpoint's norm.* is
# dropped by name), which reads a mimlab pretraining checkpoint directly (`backbone.` keys,
# position embedding resampled from 224 to 512 px): no conversion. The neck is mimlab's
# MultiDepthFeaturePyramid (the BEiT/MAE deconv/identity/pool neck, as mmseg's Feature2Pyramid).
#   python tools/train.py \
#       configs/benchmarks/mmseg/upernet_mae-vit-base-p16_8xb2-amp-160k_ade20k-512x512.py \
#       --cfg-options model.backbone.init_cfg.checkpoint=CKPT   (or edit the line below)
_base_ = 'mmseg::mae/mae-base_upernet_8xb2-amp-160k_ade20k-512x512.py'
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
model = dict(
    pretrained=None,
    backbone=dict(
        _delete_=True,
        type='mimlab.VisionTransformer',
        arch='base',
        img_size=512,
        patch_size=16,
        # MAE fine-tuning: the pretrained (sin-cos) table, resampled to 512 px, is learned on
        pos_embed_type='learned',
        drop_path_rate=0.1,
        out_indices=(3, 5, 7, 11),
        out_type='featmap',
        # mmseg's MAE backbone (mmseg/models/backbones/mae.py, init_values=1.0 in its config)
        use_rel_pos_bias=True,
        layer_scale_init_value=1.0,
        final_norm=False,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained_checkpoint, prefix='backbone.',
                      drop_keys=['norm.*'])),
    neck=dict(_delete_=True, type='mimlab.MultiDepthFeaturePyramid', in_channels=768,
              scale_factors=(4, 2, 1, 0.5), norm_cfg=dict(type='SyncBN')))
# The recipe, as mmseg's MAE config sets it: AdamW lr 1e-4, weight decay 0.05, layer decay 0.65;
# 1500 warm-up iterations, then linear (poly 1.0) decay to 0 at 160k; batch 16 (8 x 2). The
# schedulers keep the _scope_ mmengine gives the entries of an mmseg:: base.
optim_wrapper = dict(constructor='mimlab.LayerDecayOptimWrapperConstructor',
                     optimizer=dict(type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.05),
                     paramwise_cfg=dict(_delete_=True, layer_decay_rate=0.65))
param_scheduler = [
    dict(_scope_='mmseg', type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=1500),
    dict(_scope_='mmseg', type='PolyLR', eta_min=0.0, power=1.0, begin=1500, end=160000,
         by_epoch=False),
]
train_cfg = dict(max_iters=160000)
train_dataloader = dict(batch_size=2)
