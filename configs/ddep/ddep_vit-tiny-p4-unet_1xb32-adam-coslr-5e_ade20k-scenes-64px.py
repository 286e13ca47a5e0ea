# The DDeP demo: the `make demo` MAE encoder (ViT 6 x 128-d, 4-px patches, pretrained on 28-px
# Fashion-MNIST), frozen, at 64 px (16 x 16 patches, position embedding resampled); blocks 1, 3, 5
# feed a 3-stage U-Net decoder (stride 4 -> 2 -> 1), whose stride-2 and stride-1 stages also get
# convolutional skips from the noisy image. Inputs are normalised as in the encoder's pretraining
# (configs/mae/mae_vit-tiny-p4_1xb256-coslr-6e_fashion-mnist.py). Denoising pretraining on the training images
# of the generated ADE20K-layout scenes (labels unused):
#   python tools/dataset_converters/generate_scenes.py shapes ade20k data/ade_scenes --num-train 1000 \
#       --num-val 200 --size 64
_base_ = ['../_base_/schedules/ddep_adam_coslr.py', '../_base_/default_runtime.py']

data_root = 'data/ade_scenes/ADEChallengeData2016'
mae_checkpoint = 'work_dirs/demo/epoch_6.pth'
model = dict(
    type='DDeP',
    backbone=dict(
        type='VisionTransformer',
        arch=dict(embed_dim=128, depth=6, num_heads=4),
        img_size=64,
        patch_size=4,
        out_indices=(1, 3, 5),
        init_cfg=dict(type='Pretrained', checkpoint=mae_checkpoint, prefix='backbone.')),
    neck=dict(type='UNetDecoder', widths=(64, 32, 16)),
    noise_sigma=0.22)
data_preprocessor = dict(type='ImgDataPreprocessor', mean=[72.94] * 3, std=[90.02] * 3)

train_pipeline = [
    dict(type='LoadImage'),
    dict(type='RandomResizedCrop', size=64, scale=(0.5, 1.0), interpolation='bicubic'),
    dict(type='mmcv.RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImage'),
    dict(type='ResizeShortEdge', size=64),
    dict(type='CenterCrop', size=64),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    batch_size=32,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type='ImageDataset', data_root=data_root + '/images', split='training',
                 pipeline=train_pipeline))
# tools/test.py: the denoising loss on the validation images, fixed noise
test_dataloader = dict(
    batch_size=64,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='ImageDataset', data_root=data_root + '/images', split='validation',
                 pipeline=test_pipeline))
test_evaluator = dict(type='ReconstructionLoss')
test_cfg = dict()

optim_wrapper = dict(optimizer=dict(lr=1e-3))
train_cfg = dict(max_epochs=5)
auto_scale_lr = dict(base_batch_size=32)
default_hooks = dict(logger=dict(interval=10))
