# DDeP, the paper's recipe: frozen R50+ViT-B/16, 1x U-Net decoder, 224 x 224 crops, batch 512
# (8 x 64), 100 epochs, Adam lr 6e-5 with cosine decay. Images: an ImageNet-style folder.
_base_ = [
    '../_base_/models/ddep_r50-vit-base-p16_unet.py',
    '../_base_/datasets/imagenet_mae.py',
    '../_base_/schedules/ddep_adam_coslr.py',
    '../_base_/default_runtime.py',
]
train_dataloader = dict(batch_size=64)
# The encoder's own input statistics (timm's pretrained_cfg of vit_base_r50_s16_224.orig_in21k:
# mean = std = 0.5 of the 0-1 range, i.e. pixels to [-1, 1]); frozen, it cannot adapt to others.
data_preprocessor = dict(mean=[127.5] * 3, std=[127.5] * 3)
