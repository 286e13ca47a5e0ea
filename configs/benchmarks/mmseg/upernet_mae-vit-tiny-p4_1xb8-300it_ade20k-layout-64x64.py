# Demo size (CPU): the UperNet recipe of upernet_mae-vit-base-p16 with the
# encoder of the MAE demo (`make demo`: 6 blocks, 128-d, 4-px patches, pretrained on 28-px
# Fashion-MNIST) on 64x64 images of the generated ADE20K-layout scenes
# (tools/dataset_converters/generate_scenes.py), 300 iterations of batch 8. Sizes and the
# schedule differ from the real recipe, and the backbone is the plain ViT the demo figures in
# docs/benchmarks.md were measured with (no relative position bias, no LayerScale, the final norm
# kept), not mmseg's MAE backbone of the real recipe; the pyramid takes strides 4..32 from the
# 4-px patches (scale factors 1, 1/2, 1/4, 1/8). Random init: --cfg-options
# model.backbone.init_cfg=None
_base_ = './upernet_mae-vit-base-p16_8xb2-amp-160k_ade20k-512x512.py'

data_root = 'data/demo/ade/ADEChallengeData2016'
crop_size = (64, 64)
max_iters = 300
norm_cfg = dict(type='BN', requires_grad=True)  # one process: no SyncBN
pretrained_checkpoint = 'work_dirs/demo/epoch_6.pth'

model = dict(
    # the normalisation the encoder was pretrained with (Fashion-MNIST's pixel mean and std)
    data_preprocessor=dict(size=crop_size, mean=[72.94] * 3, std=[90.02] * 3),
    backbone=dict(arch=dict(_delete_=True, embed_dim=128, depth=6, num_heads=4),
                  img_size=crop_size, patch_size=4, drop_path_rate=0.1, out_indices=(1, 2, 3, 5),
                  use_rel_pos_bias=False, layer_scale_init_value=0.0, final_norm=True,
                  init_cfg=dict(checkpoint=pretrained_checkpoint, drop_keys=[])),
    neck=dict(in_channels=128, scale_factors=(1, 0.5, 0.25, 0.125), norm_cfg=norm_cfg),
    decode_head=dict(in_channels=[128] * 4, channels=64, norm_cfg=norm_cfg),
    auxiliary_head=dict(in_channels=128, channels=32, norm_cfg=norm_cfg),
    test_cfg=dict(mode='whole'))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='RandomResize', scale=(256, 64), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(256, 64), keep_ratio=True),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(batch_size=8, num_workers=0, persistent_workers=False,
                        dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(batch_size=8, num_workers=0, persistent_workers=False,
                      dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader

optim_wrapper = dict(optimizer=dict(lr=5e-4))
# the decay has no end of its own: it ends with train_cfg.max_iters
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=False, begin=0, end=30),
    dict(type='PolyLR', eta_min=0.0, power=1.0, begin=30, by_epoch=False),
]
train_cfg = dict(max_iters=max_iters, val_interval=100)  # mIoU after 100, 200, 300 iterations
default_hooks = dict(logger=dict(interval=25),
                     checkpoint=dict(by_epoch=False, interval=max_iters, max_keep_ckpts=1))
randomness = dict(seed=0)  # random init and pretrained runs draw the same data order
