# ImageNet-style folder: data_root/train/<class>/*.JPEG (a plain folder of images works too).
dataset_type = 'ImageDataset'
data_root = 'data/imagenet'
# The size of the images the model sees: every crop of the pipelines takes it, also when it is
# overridden (--cfg-options img_size=112 model.backbone.img_size=112; the test pipeline's resize
# follows at 8/7 of it), and a model built for another size is refused before training starts.
img_size = 224

data_preprocessor = dict(
    type='ImgDataPreprocessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
)

train_pipeline = [
    # the JPEG is decoded by the crop, only at the DCT scale (1, 1/2, 1/4, 1/8) the crop needs
    dict(type='LoadImage', defer_decode=True),
    dict(type='RandomResizedCrop', size=img_size, scale=(0.2, 1.0), interpolation='bicubic'),
    dict(type='mmcv.RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
# Deterministic view for held-out pictures and evaluation.
test_pipeline = [
    dict(type='LoadImage'),
    dict(type='ResizeShortEdge', size=256),
    dict(type='CenterCrop', size=img_size),
    dict(type='PackInputs'),
]

# The batch size is part of each config's recipe: every config that uses this file states it.
train_dataloader = dict(
    num_workers=8,
    persistent_workers=True,
    pin_memory=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root, split='train', pipeline=train_pipeline),
)
# tools/test.py on a pretraining checkpoint: reconstruction loss on the held-out split.
test_dataloader = dict(
    batch_size=256,
    num_workers=8,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, split='val', pipeline=test_pipeline),
)
test_evaluator = dict(type='ReconstructionLoss')
test_cfg = dict()
