# Demo size (CPU): the Mask R-CNN recipe of mask-rcnn_mae-vit-base-p16
# with the encoder of the MAE demo (`make demo`: 6 blocks, 128-d, 4-px patches, pretrained on
# 28-px Fashion-MNIST) on the generated COCO-layout scenes
# (tools/dataset_converters/generate_scenes.py), large-scale jitter at 64x64, 2 epochs of
# batch 4. Narrower heads (64 channels), smaller anchors (8..128 px), fewer sampled RoIs and BN
# instead of SyncBN; the pyramid takes strides 4..32 from the 4-px patches (scale factors 1, 1/2,
# 1/4, 1/8). Random init: --cfg-options model.backbone.init_cfg=None
_base_ = './mask-rcnn_mae-vit-base-p16_32xb2-lsj-100e_coco-1024x1024.py'

data_root = 'data/demo/coco/'
image_size = (64, 64)
max_epochs = 2
width = 64
norm_cfg = dict(type='BN', requires_grad=True)
pretrained_checkpoint = 'work_dirs/demo/epoch_6.pth'

model = dict(
    data_preprocessor=dict(mean=[72.94] * 3, std=[90.02] * 3,  # the pretraining normalisation
                           batch_augments=[dict(type='BatchFixedSizePad', size=image_size,
                                                pad_mask=True)]),
    backbone=dict(arch=dict(_delete_=True, embed_dim=128, depth=6, num_heads=4),
                  img_size=image_size, patch_size=4, out_indices=(1, 2, 3, 5),
                  init_cfg=dict(checkpoint=pretrained_checkpoint)),
    neck=dict(necks=[
        dict(type='mimlab.MultiDepthFeaturePyramid', in_channels=128,
             scale_factors=(1, 0.5, 0.25, 0.125), norm_cfg=norm_cfg),
        dict(type='FPN', in_channels=[128] * 4, out_channels=width, num_outs=5,
             norm_cfg=norm_cfg),
    ]),
    rpn_head=dict(in_channels=width, feat_channels=width,
                  anchor_generator=dict(scales=[2])),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=width),
        bbox_head=dict(in_channels=width, conv_out_channels=width, fc_out_channels=256,
                       norm_cfg=norm_cfg),
        mask_roi_extractor=dict(out_channels=width),
        mask_head=dict(in_channels=width, conv_out_channels=width, norm_cfg=norm_cfg)),
    train_cfg=dict(rpn=dict(sampler=dict(num=128)), rcnn=dict(sampler=dict(num=64))),
    test_cfg=dict(rcnn=dict(max_per_img=20)))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='RandomResize', scale=image_size, ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_type='absolute_range', crop_size=image_size,
         recompute_bbox=True, allow_negative_crop=True),
    dict(type='FilterAnnotations', min_gt_bbox_wh=(1e-2, 1e-2)),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=image_size, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
train_dataloader = dict(
    batch_size=4, num_workers=0, persistent_workers=False,
    dataset=dict(times=1, dataset=dict(data_root=data_root, pipeline=train_pipeline)))
val_dataloader = dict(
    batch_size=4, num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val2017.json')
test_evaluator = val_evaluator

optim_wrapper = dict(optimizer=dict(lr=5e-4))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=False, begin=0, end=30),
    dict(type='MultiStepLR', begin=0, end=max_epochs, by_epoch=True, milestones=[max_epochs - 1],
         gamma=0.1),
]
train_cfg = dict(max_epochs=max_epochs, val_interval=1)  # AP after every epoch
default_hooks = dict(logger=dict(interval=25), checkpoint=dict(interval=max_epochs))
auto_scale_lr = dict(enable=False)
randomness = dict(seed=0)  # random init and pretrained runs draw the same data order
