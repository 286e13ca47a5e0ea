# Not the paper's decoder: DDeP with a convolutional skip from the noisy image into the
# full-resolution stage (UNETR's), which TransUNet's decoder (the paper's) does not have. Paper
# Sec. 3.2 ties the behaviour of the noise target to such an input-to-output skip, so this is the
# variant to compare with. Fine-tune its checkpoints with
#   --cfg-options model.decode_head.image_skip_strides="(1,)"
# Batch 512 (8 x 64), 100 epochs, Adam and cosine decay (../_base_/schedules/ddep_adam_coslr.py).
_base_ = [
    '../_base_/models/ddep_r50-vit-base-p16_unet.py',
    '../_base_/datasets/imagenet_mae.py',
    '../_base_/schedules/ddep_adam_coslr.py',
    '../_base_/default_runtime.py',
]
train_dataloader = dict(batch_size=64)
# pixels to [-1, 1]: the encoder's own input statistics (see the unet1x config)
data_preprocessor = dict(mean=[127.5] * 3, std=[127.5] * 3)
model = dict(neck=dict(image_skip_strides=(1, )))
