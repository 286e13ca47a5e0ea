_base_ = './cae_vit-base-p16_8xb256-coslr-800e_in1k.py'
train_cfg = dict(max_epochs=300)
# warm-up 10 epochs at 300 (official CAE's script)
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0, end=10,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=10,
         convert_to_iter_based=True),
]
