# DDeP, the paper's recipe: frozen R50+ViT-B/16, 1x U-Net decoder, 224 x 224 crops, batch 512
# (8 x 64), 100 epochs, Adam lr 6e-5 with cosine decay. Images: an ImageNet-style folder.
_base_ = [
    '../_base_/models/ddep_r50-vit-base-p16_unet.py',
    '../_base_/datasets/imagenet_mae.py',
    '../_base_/schedules/ddep_adam_coslr.py',
    '../_base_/default_runtime.py',
]
train_dataloader = dict(batch_size=64)
