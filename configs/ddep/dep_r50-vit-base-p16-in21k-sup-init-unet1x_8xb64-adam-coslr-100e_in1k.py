# Not the paper's DeP: encoder and decoder trained together by denoising, the encoder starting
# from timm's supervised ImageNet-21k weights (as DDeP's frozen one). The paper's DeP (random
# encoder) is dep_r50-vit-base-p16-unet1x_8xb64-adam-coslr-100e_in1k.py.
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
model = dict(freeze_encoder=False)
