# CAE ViT-B/16, 300 epochs, batch 2048 (8 GPUs x 256), ImageNet-1k folder, DALL-E tokens.
# The recipe: AdamW, lr and warm-up in ../_base_/schedules/cae_adamw_coslr.py; the batch, the
# epochs (and a warm-up of another length) here.
_base_ = [
    '../_base_/models/cae_vit-base-p16.py',
    '../_base_/datasets/imagenet_cae.py',
    '../_base_/schedules/cae_adamw_coslr.py',
    '../_base_/default_runtime.py',
]
train_dataloader = dict(batch_size=256)
train_cfg = dict(max_epochs=300)
# warm-up 10 epochs at 300 (official CAE's script)
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0, end=10,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=10,
         convert_to_iter_based=True),
]
