# DDeP with the 3x decoder (widths 3072 ... 192), lr 6e-5 as for 1x.
_base_ = './ddep_r50-vit-base-p16-unet1x_8xb64-adam-coslr-100e_in1k.py'
model = dict(neck=dict(width_mult=3))
