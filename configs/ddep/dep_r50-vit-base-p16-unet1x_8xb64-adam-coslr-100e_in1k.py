# DeP, the paper's: the same denoising pretraining of encoder and decoder together, both from a
# random initialisation (no supervised pretraining). Inputs keep the [-1, 1] range of the DDeP
# configs, so the segmentation configs read DDeP and DeP checkpoints alike.
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
model = dict(freeze_encoder=False, backbone=dict(checkpoint=None))
