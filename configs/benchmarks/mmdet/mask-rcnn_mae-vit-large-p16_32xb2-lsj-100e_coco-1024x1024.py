# The ViT-L/16 variant of mask-rcnn_mae-vit-base-p16: 24 blocks of width 1024, features from
# blocks 5, 11, 17, 23; drop path 0.4 and layer decay 0.8 (the ViTDet paper's ViT-L values).
_base_ = './mask-rcnn_mae-vit-base-p16_32xb2-lsj-100e_coco-1024x1024.py'

pretrained_checkpoint = 'work_dirs/mae_vit-large-p16_8xb512-coslr-1600e_in1k/epoch_1600.pth'
model = dict(
    backbone=dict(arch='large', out_indices=(5, 11, 17, 23), drop_path_rate=0.4,
                  init_cfg=dict(checkpoint=pretrained_checkpoint)),
    neck=dict(necks=[
        dict(type='mimlab.MultiDepthFeaturePyramid', in_channels=1024,
             norm_cfg=dict(type='SyncBN')),
        dict(type='FPN', in_channels=[1024] * 4, out_channels=256, num_outs=5,
             norm_cfg=dict(type='SyncBN', requires_grad=True)),
    ]))
optim_wrapper = dict(paramwise_cfg=dict(layer_decay_rate=0.8))
