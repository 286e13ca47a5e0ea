# The garment scenes in ADE20K's layout: 64x64 grey canvases with 1-4 Fashion-MNIST
# garments (19-42 px) on a cluttered ground,
#   python tools/dataset_converters/generate_scenes.py garments ade20k data/garments/ade \
#       --num-train 2000 --num-val 200 --size 64
# read by mmseg's BaseSegDataset (ADE20K's suffixes, label 0 = ground, ignored) with the ten
# Fashion-MNIST classes as metainfo. Every name here starts with `garments_`, so that a config
# can list this file beside a model config that sets its own pipelines and dataloaders (mmengine
# refuses a key that two bases both set) and take what it needs:
#   train_dataloader = dict(dataset=dict(_delete_=True, **_base_.garments_train_dataset))
garments_data_root = 'data/garments/ade/ADEChallengeData2016'
garments_classes = ('T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt',
                    'Sneaker', 'Bag', 'Ankle boot')
# garments are 19-42 px: rescale mildly (0.75-1.5) so that they stay the sizes they are tested at
garments_train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='RandomResize', scale=(64, 64), ratio_range=(0.75, 1.5), keep_ratio=True),
    dict(type='RandomCrop', crop_size=(64, 64), cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
garments_test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='PackSegInputs'),
]
# what the training and the validation datasets share
garments_dataset = dict(
    _scope_='mmseg', type='BaseSegDataset', data_root=garments_data_root, img_suffix='.jpg',
    seg_map_suffix='.png', reduce_zero_label=True, metainfo=dict(classes=garments_classes))
garments_train_dataset = dict(
    **garments_dataset, pipeline=garments_train_pipeline,
    data_prefix=dict(img_path='images/training', seg_map_path='annotations/training'))
garments_val_dataset = dict(
    **garments_dataset, pipeline=garments_test_pipeline,
    data_prefix=dict(img_path='images/validation', seg_map_path='annotations/validation'))
