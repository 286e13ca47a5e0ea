# The short CPU recipe of the demo-size configs: MAE's AdamW (see mae_adamw_coslr.py) with a
# larger lr for a small model and batch 256, one warm-up epoch, cosine to 1e-5, 6 epochs.
_base_ = './mae_adamw_coslr.py'
optim_wrapper = dict(optimizer=dict(lr=1.5e-3))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0, end=1,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=1,
         convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=6)
auto_scale_lr = dict(base_batch_size=256)
