# CAE's recipe (official Atten4Vis/CAE scripts/cae_base_{300,800}e.sh, cae_large_1600e.sh, and
# mmpretrain's cae_beit-base-p16_8xb256-amp-coslr-300e_in1k.py): AdamW lr 1.5e-3 at batch 2048,
# betas (0.9, 0.999), weight decay 0.05 on every parameter of more than one dimension, the cls
# and mask tokens included (official get_parameter_groups skips only 1-D parameters and biases;
# mmpretrain's paramwise_cfg below): none on norms, biases and LayerScale gammas (flat_decay_mult
# covers every other 1-D parameter); the sin-cos positions are not trained; gradient clip 3.0;
# linear warm-up, then cosine to eta_min 1e-5. The warm-up follows the run length (official:
# 10/20/40 epochs for 300/800/1600): this file holds the 800-epoch schedule, the 300- and
# 1600-epoch configs restate it. The config that uses this file states the batch and
# train_cfg.max_epochs.
optim_wrapper = dict(
    type='OptimWrapper',
    # fused: one kernel per step on the CPU and the GPU (docs/performance.md)
    optimizer=dict(type='AdamW', lr=1.5e-3, betas=(0.9, 0.999), weight_decay=0.05, fused=True),
    clip_grad=dict(max_norm=3.0),
    paramwise_cfg=dict(bias_decay_mult=0.0, norm_decay_mult=0.0, flat_decay_mult=0.0),
)
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0, end=20,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=20,
         convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop')
# --auto-scale-lr rescales the lr by (actual total batch) / base_batch_size.
auto_scale_lr = dict(base_batch_size=2048)
