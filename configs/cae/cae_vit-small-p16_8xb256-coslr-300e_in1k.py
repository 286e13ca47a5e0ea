# CAE ViT-S/16: the ViT-B recipe with official CAE's small encoder (384-d, 12 heads, not DeiT's 6:
# arch 'cae-small'); the regressor and decoder follow its width and head count.
# 300 epochs, batch 2048 (8 x 256).
_base_ = [
    '../_base_/models/cae_vit-base-p16.py',
    '../_base_/datasets/imagenet_cae.py',
    '../_base_/schedules/cae_adamw_coslr.py',
    '../_base_/default_runtime.py',
]
model = dict(backbone=dict(arch='cae-small'))
train_dataloader = dict(batch_size=256)
train_cfg = dict(max_epochs=300)
# warm-up 10 epochs at 300 (official CAE's script)
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0, end=10,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=10,
         convert_to_iter_based=True),
]
