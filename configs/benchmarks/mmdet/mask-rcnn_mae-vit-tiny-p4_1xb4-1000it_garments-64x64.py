# Mask R-CNN on the garment scenes (`make demo-downstream`): 64x64 grey canvases with 1-4
# Fashion-MNIST garments (19-42 px, overlapping; masks are the visible pixels) on a cluttered
# ground, in COCO's layout
#   python tools/dataset_converters/generate_scenes.py garments coco data/garments/coco \
#       --num-train 2000 --num-val 200 --size 64
# read by mmdet's CocoDataset with the ten Fashion-MNIST classes as metainfo; box and mask AP by
# its CocoMetric. The `make demo` encoder (6 x 128-d, 4-px patches: a 16x16 grid at 64 px);
# random init: --cfg-options model.backbone.init_cfg=None. 10% of the labels:
# --cfg-options train_dataloader.dataset.indices=200; the number of iterations stays the same.
# Sized for the objects: anchors of 16-256 px (scale 4 on strides 4-64, so 16 and 32 px anchors
# for 19-42 px garments), no large-scale jitter (it would shrink garments to a few pixels), an
# iteration schedule so that 10% and 100% of the labels get the same number of steps.
_base_ = './mask-rcnn_mae-vit-tiny-p4_1xb4-lsj-2e_coco-layout-64x64.py'

data_root = 'data/garments/coco/'
classes = ('T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker',
           'Bag', 'Ankle boot')
max_iters = 1000

model = dict(
    rpn_head=dict(anchor_generator=dict(scales=[4])),
    roi_head=dict(bbox_head=dict(num_classes=len(classes)),
                  mask_head=dict(num_classes=len(classes))),
    train_cfg=dict(rpn_proposal=dict(nms_pre=500, max_per_img=300)),
    test_cfg=dict(rpn=dict(nms_pre=500, max_per_img=100)))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(64, 64), keep_ratio=True),  # 64 px already: sets scale_factor
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
train_dataloader = dict(
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(_delete_=True, type='CocoDataset', data_root=data_root,
                 metainfo=dict(classes=classes), indices=None,
                 ann_file='annotations/instances_train2017.json',
                 data_prefix=dict(img='train2017/'), filter_cfg=dict(filter_empty_gt=True),
                 pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(data_root=data_root, metainfo=dict(classes=classes),
                                   pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val2017.json')
test_evaluator = val_evaluator

# the same optimiser for both inits: mild layer decay (6 blocks), AdamW lr 1e-3
optim_wrapper = dict(optimizer=dict(lr=1e-3), paramwise_cfg=dict(layer_decay_rate=0.9))
# the decay has no end of its own: it ends with train_cfg.max_iters
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=False, begin=0, end=50),
    dict(type='CosineAnnealingLR', eta_min=0.0, begin=50, by_epoch=False),
]
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=max_iters,
                 val_interval=max_iters)
default_hooks = dict(checkpoint=dict(by_epoch=False, interval=max_iters))
log_processor = dict(by_epoch=False)
