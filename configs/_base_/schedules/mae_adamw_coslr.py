# MAE's recipe: AdamW, lr 1.5e-4 x batch / 256 (here for batch 4096), betas (0.9, 0.95),
# weight decay 0.05 except on norms, biases, tokens and position embeddings; 40 warm-up epochs,
# then cosine to 0 at the end of training. The config that uses this file states the batch and
# train_cfg.max_epochs (the cosine's end follows it, so an epoch budget is one key).
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1.5e-4 * 4096 / 256, betas=(0.9, 0.95), weight_decay=0.05,
                   # one fused kernel per step on the CPU and the GPU: 7x faster than torch's
                   # per-tensor loop on the CPU for ViT-B (docs/performance.md)
                   fused=True),
    paramwise_cfg=dict(
        norm_decay_mult=0.0,
        bias_decay_mult=0.0,
        custom_keys={
            'pos_embed': dict(decay_mult=0.0),
            'mask_token': dict(decay_mult=0.0),
            'cls_token': dict(decay_mult=0.0),
        }),
)
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0, end=40,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=0.0, by_epoch=True, begin=40,
         convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop')
# --auto-scale-lr rescales the lr by (actual total batch) / base_batch_size.
auto_scale_lr = dict(base_batch_size=4096)
