# UperNet on ADE20K with a mimlab MAE encoder: mmseg's own MAE recipe (UPerHead, AdamW lr 1e-4,
# layer decay 0.65, 160k iterations, batch 16) with the neck replaced by mimlab's
# MultiDepthFeaturePyramid (the BEiT/MAE deconv/identity/pool neck, as mmseg's Feature2Pyramid)
# and the backbone by mimlab.VisionTransformer, which reads a mimlab pretraining checkpoint
# directly (`backbone.` keys, position embedding resampled from 224 to 512 px): no conversion.
#   python tools/train.py \
#       configs/benchmarks/mmseg/upernet_mae-vit-base-p16_8xb2-amp-160k_ade20k-512x512.py \
#       --cfg-options model.backbone.init_cfg.checkpoint=CKPT   (or edit the line below)
_base_ = 'mmseg::mae/mae-base_upernet_8xb2-amp-160k_ade20k-512x512.py'
custom_imports = dict(imports=['mimlab'], allow_failed_imports=False)
# mimlab's run hooks: weights-only checkpoint loads; per-iteration random seeds and the resume
# checks (exact resume); a checkpoint at the current iteration on SIGTERM / SIGUSR1
default_hooks = dict(safe_checkpoint_loader=dict(type='mimlab.SafeCheckpointLoaderHook'),
                     random_state=dict(type='mimlab.RandomStateHook'),
                     preemption=dict(type='mimlab.PreemptionHook'))

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
        init_cfg=dict(type='Pretrained', checkpoint=pretrained_checkpoint, prefix='backbone.')),
    neck=dict(_delete_=True, type='mimlab.MultiDepthFeaturePyramid', in_channels=768,
              scale_factors=(4, 2, 1, 0.5), norm_cfg=dict(type='SyncBN')))
optim_wrapper = dict(constructor='mimlab.LayerDecayOptimWrapperConstructor',
                     paramwise_cfg=dict(_delete_=True, layer_decay_rate=0.65))
