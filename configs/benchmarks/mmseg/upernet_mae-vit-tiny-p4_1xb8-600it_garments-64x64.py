# UperNet on the garment scenes (`make demo-downstream`): 64x64 grey canvases with 1-4
# Fashion-MNIST garments (19-42 px) on a cluttered ground, in ADE20K's layout
#   python tools/dataset_converters/generate_scenes.py garments ade20k data/garments/ade \
#       --num-train 2000 --num-val 200 --size 64
# read by mmseg's BaseSegDataset (ADE20K's suffixes, label 0 = ground, ignored) with the ten
# Fashion-MNIST classes as metainfo; mIoU over those ten. The `make demo` encoder (6 x 128-d,
# 4-px patches: a 16x16 grid at 64 px); random init: --cfg-options model.backbone.init_cfg=None.
# 10% of the labels: --cfg-options train_dataloader.dataset.indices=200 (the first 200 of the
# i.i.d. generated scenes); the number of iterations stays the same.
_base_ = './upernet_mae-vit-tiny-p4_1xb8-300it_ade20k-layout-64x64.py'

data_root = 'data/garments/ade/ADEChallengeData2016'
classes = ('T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker',
           'Bag', 'Ankle boot')
max_iters = 600

model = dict(decode_head=dict(num_classes=len(classes)),
             auxiliary_head=dict(num_classes=len(classes)))
# garments are 19-42 px: rescale mildly (0.75-1.5) so that they stay the sizes they are tested at
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='RandomResize', scale=(64, 64), ratio_range=(0.75, 1.5), keep_ratio=True),
    dict(type='RandomCrop', crop_size=(64, 64), cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='PackSegInputs'),
]
dataset = dict(type='BaseSegDataset', data_root=data_root, img_suffix='.jpg',
               seg_map_suffix='.png', reduce_zero_label=True, metainfo=dict(classes=classes))
train_dataloader = dict(dataset=dict(
    **dataset, indices=None, pipeline=train_pipeline,
    data_prefix=dict(img_path='images/training', seg_map_path='annotations/training')))
val_dataloader = dict(dataset=dict(
    **dataset, pipeline=test_pipeline,
    data_prefix=dict(img_path='images/validation', seg_map_path='annotations/validation')))
test_dataloader = val_dataloader

# the same optimiser for both inits: mild layer decay (6 blocks), AdamW lr 5e-4
optim_wrapper = dict(paramwise_cfg=dict(layer_decay_rate=0.9))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=False, begin=0, end=50),
    dict(type='PolyLR', eta_min=0.0, power=1.0, begin=50, end=max_iters, by_epoch=False),
]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(checkpoint=dict(interval=max_iters))
