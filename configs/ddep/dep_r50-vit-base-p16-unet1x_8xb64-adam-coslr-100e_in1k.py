# DeP, the paper's: the same denoising pretraining of encoder and decoder together, both from a
# random initialisation (no supervised pretraining). Inputs keep the [-1, 1] range of the DDeP
# configs, so the segmentation configs read DDeP and DeP checkpoints alike.
_base_ = './ddep_r50-vit-base-p16-unet1x_8xb64-adam-coslr-100e_in1k.py'
model = dict(freeze_encoder=False, backbone=dict(checkpoint=None))
