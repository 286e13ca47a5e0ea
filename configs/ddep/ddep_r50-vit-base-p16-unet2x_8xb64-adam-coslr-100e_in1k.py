# DDeP with the 2x decoder (widths 2048 ... 128); the paper's lr for it is 1e-4.
_base_ = './ddep_r50-vit-base-p16-unet1x_8xb64-adam-coslr-100e_in1k.py'
model = dict(neck=dict(width_mult=2))
optim_wrapper = dict(optimizer=dict(lr=1e-4))
