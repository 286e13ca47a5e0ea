# MAE ViT-L/16: only the encoder changes; the decoder and head follow it.
_base_ = './mae_vit-base-p16_8xb512-coslr-800e_in1k.py'
model = dict(backbone=dict(arch='large'))
