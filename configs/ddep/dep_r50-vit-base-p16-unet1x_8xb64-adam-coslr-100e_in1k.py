# DeP: the same denoising pretraining, encoder and decoder trained together.
_base_ = './ddep_r50-vit-base-p16-unet1x_8xb64-adam-coslr-100e_in1k.py'
model = dict(freeze_encoder=False)
