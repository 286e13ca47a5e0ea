# Not the paper's DeP: encoder and decoder trained together by denoising, the encoder starting
# from timm's supervised ImageNet-21k weights (as DDeP's frozen one). The paper's DeP (random
# encoder) is dep_r50-vit-base-p16-unet1x_8xb64-adam-coslr-100e_in1k.py.
_base_ = './ddep_r50-vit-base-p16-unet1x_8xb64-adam-coslr-100e_in1k.py'
model = dict(freeze_encoder=False)
