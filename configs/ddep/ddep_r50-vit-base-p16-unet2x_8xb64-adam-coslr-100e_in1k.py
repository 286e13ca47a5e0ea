# DDeP with the 2x decoder (widths 2048 ... 128); the paper's lr for it is 1e-4.
# Batch 512 (8 x 64), 100 epochs, Adam and cosine decay (../_base_/schedules/ddep_adam_coslr.py).
_base_ = [
    '../_base_/models/ddep_r50-vit-base-p16_unet.py',
    '../_base_/datasets/imagenet_mae.py',
    '../_base_/schedules/ddep_adam_coslr.py',
    '../_base_/default_runtime.py',
]
train_dataloader = dict(batch_size=64)
# pixels to [-1, 1]: the encoder's own input statistics (see the unet1x config)
data_preprocessor = dict(mean=[127.5] * 3, std=[127.5] * 3)
model = dict(neck=dict(width_mult=2))
optim_wrapper = dict(optimizer=dict(lr=1e-4))
