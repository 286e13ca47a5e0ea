# CAE ViT-S/16: the ViT-B recipe with official CAE's small encoder (384-d, 12 heads, not DeiT's 6:
# arch 'cae-small'); the regressor and decoder follow its width and head count.
_base_ = './cae_vit-base-p16_8xb256-coslr-300e_in1k.py'
model = dict(backbone=dict(arch='cae-small'))
