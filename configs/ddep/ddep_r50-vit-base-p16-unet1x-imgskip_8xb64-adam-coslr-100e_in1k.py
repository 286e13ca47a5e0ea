# Not the paper's decoder: DDeP with a convolutional skip from the noisy image into the
# full-resolution stage (UNETR's), which TransUNet's decoder (the paper's) does not have. Paper
# Sec. 3.2 ties the behaviour of the noise target to such an input-to-output skip, so this is the
# variant to compare with. Fine-tune its checkpoints with
#   --cfg-options model.decode_head.image_skip_strides="(1,)"
_base_ = './ddep_r50-vit-base-p16-unet1x_8xb64-adam-coslr-100e_in1k.py'
model = dict(neck=dict(image_skip_strides=(1, )))
