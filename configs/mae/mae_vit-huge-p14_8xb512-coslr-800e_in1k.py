# MAE ViT-H/14 (16 x 16 = 256 patches at 224 px): the decoder and head follow the encoder.
_base_ = './mae_vit-base-p16_8xb512-coslr-800e_in1k.py'
model = dict(backbone=dict(arch='huge', patch_size=14))
