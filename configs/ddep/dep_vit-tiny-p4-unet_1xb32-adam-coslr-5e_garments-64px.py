# DeP on the garment scenes: the same denoising pretraining as
# ddep_vit-tiny-p4-unet_1xb32-adam-coslr-5e_garments-64px.py, but encoder and decoder are trained
# together from a random initialisation (no MAE, no supervised pretraining), as in the paper's
# DeP. The input statistics stay the encoder family's (Fashion-MNIST's), so the fine-tuning
# config reads DDeP and DeP checkpoints alike:
#   python tools/train.py configs/ddep/dep_vit-tiny-p4-unet_1xb32-adam-coslr-5e_garments-64px.py \
#       --work-dir work_dirs/dep_garments
_base_ = './ddep_vit-tiny-p4-unet_1xb32-adam-coslr-5e_garments-64px.py'

model = dict(freeze_encoder=False, backbone=dict(init_cfg=None))
