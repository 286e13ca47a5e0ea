# Fashion-MNIST as Debian's dataset-fashion-mnist installs it (the embedded default data):
# 28x28 grey images, read by the idx loader, repeated to 3 channels, cropped (50-100% of the
# area) and resized back to 28.
dataset_type = 'ImageDataset'
data_root = '/usr/share/datasets/fashion-mnist'
# The size of the images the model sees: every crop of the pipelines below takes it, also when
# it is overridden (--cfg-options img_size=32; mimlab.engine.config_checks.apply_img_size applies it), and a
# model built for another size (model.backbone.img_size) is refused before training starts.
img_size = 28

data_preprocessor = dict(
    type='ImgDataPreprocessor',
    mean=[72.94, 72.94, 72.94],  # Fashion-MNIST training-set pixel mean and std
    std=[90.02, 90.02, 90.02],
)

# MAE's augmentation ablation (Table 1e) as named choices; the default is 'crop' (random-size
# crop + flip, the paper's); pick another with one override:
#   --cfg-options train_dataloader.dataset.pipeline.1.choice=none|crop|crop_jitter
augmentations = dict(
    none=[],
    crop=[
        dict(type='RandomResizedCrop', size=img_size, scale=(0.5, 1.0), interpolation='bicubic'),
        dict(type='mmcv.RandomFlip', prob=0.5, direction='horizontal'),
    ],
    crop_jitter=[
        dict(type='RandomResizedCrop', size=img_size, scale=(0.5, 1.0), interpolation='bicubic'),
        dict(type='mmcv.RandomFlip', prob=0.5, direction='horizontal'),
        dict(type='ColorJitter', brightness=0.4, contrast=0.4),  # grey: no saturation or hue
    ],
)
train_pipeline = [
    dict(type='LoadImage'),
    dict(type='AugmentationChoice', choice='crop', choices=augmentations),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImage'),
    dict(type='ResizeShortEdge', size=img_size),
    dict(type='CenterCrop', size=img_size),  # other images (e.g. a photo for the picture tool)
    dict(type='PackInputs'),
]

train_dataloader = dict(
    batch_size=256,
    # Decoding takes ~0.1 ms an image here: on a 2-core machine a worker process only takes CPU
    # from the training step, so load in the main process (raise it on bigger machines).
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root, split='train', pipeline=train_pipeline),
)
# tools/test.py on a pretraining checkpoint: reconstruction loss on the held-out split.
test_dataloader = dict(
    batch_size=512,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, split='test', pipeline=test_pipeline),
)
test_evaluator = dict(type='ReconstructionLoss')
test_cfg = dict()
