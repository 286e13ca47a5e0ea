_base_ = './cae_vit-base-p16_8xb256-coslr-800e_in1k.py'
train_cfg = dict(max_epochs=1600)
# warm-up 40 epochs at 1600 (official CAE's script)
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0, end=40,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=40,
         convert_to_iter_based=True),
]
