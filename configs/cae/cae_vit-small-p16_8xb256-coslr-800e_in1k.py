# CAE ViT-S/16: the ViT-B recipe with official CAE's small encoder (384-d, 12 heads, not DeiT's 6:
# arch 'cae-small'); the regressor and decoder follow its width and head count.
# 800 epochs, batch 2048 (8 x 256).
_base_ = [
    '../_base_/models/cae_vit-base-p16.py',
    '../_base_/datasets/imagenet_cae.py',
    '../_base_/schedules/cae_adamw_coslr.py',
    '../_base_/default_runtime.py',
]
model = dict(backbone=dict(arch='cae-small'))
train_dataloader = dict(batch_size=256)
train_cfg = dict(max_epochs=800)
