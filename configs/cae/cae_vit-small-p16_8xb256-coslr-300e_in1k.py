# CAE ViT-S/16: the ViT-B recipe with the small encoder (regressor and decoder follow its width).
_base_ = './cae_vit-base-p16_8xb256-coslr-300e_in1k.py'
model = dict(backbone=dict(arch='small'))
