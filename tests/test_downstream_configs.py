"""The mmseg and mmdet configs with the mimlab encoder: the benchmark recipes build with widths
that agree, the demo-size ones take a training step, and real COCO-format annotations (Debian's
labelme-examples) load through the detection config."""
import json
import os.path as osp

import pytest
import torch
from conftest import REPO
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope

SEG = osp.join(REPO, 'configs/benchmarks/mmseg')
DET = osp.join(REPO, 'configs/benchmarks/mmdet')
SEG_DEMO = osp.join(SEG, 'upernet_mae-vit-tiny-p4_1xb8-300it_ade20k-layout-64x64.py')
DET_DEMO = osp.join(DET, 'mask-rcnn_mae-vit-tiny-p4_1xb4-lsj-2e_coco-layout-64x64.py')
LABELME = '/usr/share/doc/labelme-examples/examples/instance_segmentation/data_dataset_coco'


def single_process(cfg):
    """The config with every SyncBN made BN (mmcv's MMSyncBN needs a process group to build)."""
    if isinstance(cfg, dict):
        if cfg.get('type') in ('SyncBN', 'MMSyncBN'):
            cfg['type'] = 'BN'
        for value in cfg.values():
            single_process(value)
    elif isinstance(cfg, list):
        for value in cfg:
            single_process(value)
    return cfg


@pytest.fixture
def scope():
    yield init_default_scope
    init_default_scope('mimlab')


@pytest.mark.parametrize('name,arch,indices,decay', [
    ('mask-rcnn_mae-vit-base-p16_32xb2-lsj-100e_coco-1024x1024.py', 'base', (2, 5, 8, 11), 0.7),
    ('mask-rcnn_mae-vit-large-p16_32xb2-lsj-100e_coco-1024x1024.py', 'large', (5, 11, 17, 23),
     0.8)])
def test_mask_rcnn_recipes(scope, name, arch, indices, decay):
    from mmdet.registry import MODELS as DET_MODELS
    cfg = Config.fromfile(osp.join(DET, name))
    assert cfg.model.backbone.arch == arch and tuple(cfg.model.backbone.out_indices) == indices
    assert cfg.optim_wrapper.optimizer.type == 'AdamW'
    assert cfg.optim_wrapper.paramwise_cfg.layer_decay_rate == decay
    resize = cfg.train_dataloader.dataset.dataset.pipeline[2]
    assert (resize.type, resize.scale, resize.ratio_range) == ('RandomResize', (1024, 1024),
                                                               (0.1, 2.0))
    scope('mmdet')
    with torch.device('meta'):
        model = DET_MODELS.build(single_process(cfg.model))
    width = model.backbone.embed_dim
    pyramid, fpn = model.neck.necks
    assert pyramid.branches[0][0].in_channels == width
    assert [c.conv.in_channels for c in fpn.lateral_convs] == [width] * 4


def test_upernet_large_variant():
    cfg = Config.fromfile(
        osp.join(SEG, 'upernet_mae-vit-large-p16_8xb2-amp-160k_ade20k-512x512.py'))
    assert cfg.model.backbone.arch == 'large' and cfg.model.neck.in_channels == 1024
    assert cfg.model.decode_head.in_channels == [1024] * 4
    assert cfg.model.backbone.init_cfg.prefix == 'backbone.'
    assert cfg.optim_wrapper.paramwise_cfg.layer_decay_rate == 0.65
    assert cfg.train_cfg.max_iters == 160000 and cfg.train_dataloader.batch_size * 8 == 16


def test_demo_upernet_takes_a_training_step(scope):
    from mmengine.optim import build_optim_wrapper
    from mmengine.structures import PixelData
    from mmseg.registry import MODELS as SEG_MODELS
    from mmseg.structures import SegDataSample
    cfg = Config.fromfile(SEG_DEMO)
    cfg.model.backbone.init_cfg = None
    scope('mmseg')
    model = SEG_MODELS.build(cfg.model)
    model.init_weights()
    samples = []
    for _ in range(2):
        sample = SegDataSample(metainfo=dict(img_shape=(64, 64), pad_shape=(64, 64),
                                             ori_shape=(64, 64)))
        sample.gt_sem_seg = PixelData(data=torch.randint(0, 150, (1, 64, 64)))
        samples.append(sample)
    data = dict(inputs=[torch.randint(0, 255, (3, 64, 64), dtype=torch.uint8)] * 2,
                data_samples=samples)
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    before = model.backbone.blocks[0].attn.qkv.weight.clone()
    log = model.train_step(data, wrapper)
    assert torch.isfinite(log['loss']) and 'decode.loss_ce' in log
    assert not torch.equal(before, model.backbone.blocks[0].attn.qkv.weight)


def labelme_dataset_cfg(cfg: Config, classes) -> dict:
    """The detection config's training set pointed at labelme's COCO export: its file names
    carry their folder (no image prefix), and its own categories are named (mmdet numbers the
    labels by the file's category ids that match ``classes``, so a file with other categories
    than COCO's 80 needs its names)."""
    dataset = cfg.train_dataloader.dataset.dataset
    return dict(dataset, data_root=LABELME, ann_file='annotations.json', data_prefix=dict(img=''),
                metainfo=dict(classes=classes))


@pytest.mark.skipif(not osp.isdir(LABELME), reason='needs Debian package labelme-examples')
def test_labelme_coco_annotations_train_the_demo_mask_rcnn(scope):
    from mmdet.registry import DATASETS
    from mmdet.registry import MODELS as DET_MODELS
    from mmengine.optim import build_optim_wrapper
    cfg = Config.fromfile(DET_DEMO)
    cfg.model.backbone.init_cfg = None
    scope('mmdet')
    with open(osp.join(LABELME, 'annotations.json')) as f:
        coco = json.load(f)
    names = {c['id']: c['name'] for c in coco['categories'] if c['name'] != '_background_'}
    dataset = DATASETS.build(labelme_dataset_cfg(cfg, tuple(names.values())))
    raw = [dataset.get_data_info(i) for i in range(len(dataset))]
    by_image = {}
    for ann in coco['annotations']:
        by_image.setdefault(ann['image_id'], []).append(names[ann['category_id']])
    assert len(raw) == 3 and sum(len(v) for v in by_image.values()) == 12
    for info in raw:
        assert sorted(names[dataset.cat_ids[i['bbox_label']]] for i in info['instances']) == \
            sorted(by_image[info['img_id']])
        assert all(dataset.metainfo['classes'][i['bbox_label']] == names[
            dataset.cat_ids[i['bbox_label']]] for i in info['instances'])

    batch = pseudo_collate([dataset[i] for i in range(len(dataset))])
    for sample in batch['data_samples']:  # large-scale jitter: at most 64 x 64, masks alike
        h, w = sample.img_shape
        assert h <= 64 and w <= 64 and sample.gt_instances.masks.masks.shape[1:] == (h, w)
    model = DET_MODELS.build(cfg.model)
    model.init_weights()
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    before = model.backbone.blocks[-1].mlp.fc2.weight.clone()
    log = model.train_step(batch, wrapper)
    assert {'loss_rpn_cls', 'loss_cls', 'loss_bbox', 'loss_mask'} <= set(log)
    assert torch.isfinite(log['loss'])
    assert not torch.equal(before, model.backbone.blocks[-1].mlp.fc2.weight)


SEG_GARMENTS = osp.join(SEG, 'upernet_mae-vit-tiny-p4_1xb8-600it_garments-64x64.py')
DET_GARMENTS = osp.join(DET, 'mask-rcnn_mae-vit-tiny-p4_1xb4-1000it_garments-64x64.py')


def test_garment_configs_read_the_generated_scenes(scope, tmp_path):
    """The garment configs' own datasets (mmseg's BaseSegDataset, mmdet's CocoDataset, ten
    Fashion-MNIST classes) read generated garment scenes; their heads have ten classes;
    ``indices`` (the label fraction of the grid) keeps the first scenes; a training batch
    through the mmdet model gives finite losses."""
    from conftest import FASHION_MNIST
    from mmdet.registry import DATASETS as DET_DATASETS
    from mmdet.registry import MODELS as DET_MODELS
    from mmseg.registry import DATASETS as SEG_DATASETS

    from mimlab.datasets import FASHION_MNIST_CLASSES
    from mimlab.datasets.scenes import garment_scenes, write_ade20k_layout, write_coco_layout
    scenes = garment_scenes(64, FASHION_MNIST)
    ade_root = write_ade20k_layout(str(tmp_path / 'ade'), 4, 2, seed=0, scenes=scenes)
    coco_root = write_coco_layout(str(tmp_path / 'coco'), 4, 2, seed=0, scenes=scenes)

    seg_cfg = Config.fromfile(SEG_GARMENTS)
    assert tuple(seg_cfg.classes) == FASHION_MNIST_CLASSES
    assert seg_cfg.model.decode_head.num_classes == seg_cfg.model.auxiliary_head.num_classes == 10
    scope('mmseg')
    seg_train = SEG_DATASETS.build(dict(seg_cfg.train_dataloader.dataset, data_root=ade_root,
                                        indices=3))
    seg_val = SEG_DATASETS.build(dict(seg_cfg.val_dataloader.dataset, data_root=ade_root))
    assert len(seg_train) == 3 and len(seg_val) == 2
    assert seg_train.metainfo['classes'] == FASHION_MNIST_CLASSES
    for dataset, sizes in ((seg_train, range(48, 65)), (seg_val, [64])):
        sample = dataset[0]  # training: rescaled by 0.75-1.5, then cropped to at most 64
        assert sample['inputs'].shape[0] == 3 and set(sample['inputs'].shape[1:]) <= set(sizes)
        labels = set(sample['data_samples'].gt_sem_seg.data.unique().tolist())
        assert labels - {255} and labels <= set(range(10)) | {255}

    det_cfg = Config.fromfile(DET_GARMENTS)
    assert det_cfg.model.roi_head.bbox_head.num_classes == 10
    assert det_cfg.model.roi_head.mask_head.num_classes == 10
    det_cfg.model.backbone.init_cfg = None
    scope('mmdet')
    det_train = DET_DATASETS.build(dict(det_cfg.train_dataloader.dataset, data_root=coco_root,
                                        indices=3))
    det_val = DET_DATASETS.build(dict(det_cfg.val_dataloader.dataset, data_root=coco_root))
    assert len(det_train) == 3 and len(det_val) == 2
    batch = pseudo_collate([det_train[i] for i in range(3)])
    for sample in batch['data_samples']:
        assert sample.gt_instances.labels.max() < 10
        assert sample.gt_instances.masks.masks.shape[1:] == (64, 64)
    model = DET_MODELS.build(det_cfg.model)
    model.init_weights()
    losses = model.loss(*model.data_preprocessor(batch, True).values())
    assert {'loss_rpn_cls', 'loss_cls', 'loss_bbox', 'loss_mask'} <= set(losses)
    assert all(torch.isfinite(sum(v) if isinstance(v, list) else v).all()
               for k, v in losses.items() if 'loss' in k)
