# CAE's recipe: AdamW lr 1.5e-3 at batch 2048, betas (0.9, 0.999), weight decay 0.05 (none on
# norms, biases, tokens, positions), gradient clipping at norm 3.0, 10 warm-up epochs, then cosine.
_base_ = './mae_adamw_coslr.py'
optim_wrapper = dict(optimizer=dict(lr=1.5e-3, betas=(0.9, 0.999)), clip_grad=dict(max_norm=3.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0, end=10,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=0.0, by_epoch=True, begin=10,
         convert_to_iter_based=True),
]
auto_scale_lr = dict(base_batch_size=2048)
