# The label-efficient segmentation demo: fine-tune the DDeP demo model (configs/ddep/
# ddep_vit-tiny-p4-unet_1xb32-adam-coslr-5e_ade20k-scenes-64px.py) on 10% of the labels of the
# generated ADE20K-layout scenes (64 px), read by mmseg's ADE20KDataset, mIoU by its IoUMetric.
# The encoder is the MAE demo's, kept frozen here to fit the CPU budget; the decoder starts from
# the DDeP checkpoint, or at random with model.decode_head.decoder_checkpoint=None.
#   python tools/dataset_converters/make_label_splits.py data/ade_scenes/ADEChallengeData2016
_base_ = './unet-ddep_r50-vit-base-p16-1x_8xb2-adam-coslr-160k_ade20k-512x512.py'

data_root = 'data/ade_scenes/ADEChallengeData2016'
ddep_checkpoint = 'work_dirs/ddep_demo/epoch_5.pth'
model = dict(
    # the MAE demo encoder's input statistics (Fashion-MNIST's, as in its pretraining and DDeP)
    data_preprocessor=dict(size=(64, 64), mean=[72.94] * 3, std=[90.02] * 3),
    backbone=dict(
        _delete_=True,
        type='mimlab.VisionTransformer',
        arch=dict(embed_dim=128, depth=6, num_heads=4),
        img_size=64,
        patch_size=4,
        out_indices=(1, 3, 5),
        out_type='featmap',
        frozen_stages=6,
        init_cfg=dict(type='Pretrained', checkpoint='work_dirs/demo/epoch_6.pth',
                      prefix='backbone.')),
    # a plain ViT: the demo decoder's image skips at strides 1 and 2 (its default), and BN on
    # one process
    decode_head=dict(in_channels=[128] * 3, in_strides=[4] * 3, widths=(64, 32, 16),
                     image_skip_strides=None, norm_cfg=dict(type='BN'),
                     decoder_checkpoint=ddep_checkpoint),
    test_cfg=dict(_delete_=True, mode='whole'))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='RandomResize', scale=(64, 64), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=(64, 64), cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(64, 64), keep_ratio=True),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(
    batch_size=8,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(data_root=data_root, ann_file='splits/train_10pct_seed0.txt',
                 pipeline=train_pipeline))
val_dataloader = dict(num_workers=0, persistent_workers=False,
                      dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader

optim_wrapper = dict(optimizer=dict(lr=1e-3))
train_cfg = dict(max_iters=300, val_interval=300)
default_hooks = dict(logger=dict(interval=50),
                     checkpoint=dict(by_epoch=False, interval=300))
randomness = dict(seed=0)  # mmseg's runtime base draws one per run
