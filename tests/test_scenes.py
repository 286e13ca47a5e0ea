"""The generated ADE20K/COCO-layout sets: read by mmseg's and mmdet's own dataset classes."""
import json
import os.path as osp

import numpy as np
import pytest
from PIL import Image

from mimlab.datasets.scenes import (ADE20K_SCENE_CLASSES, COCO_CATEGORY_IDS, draw_scene,
                                    write_ade20k_layout, write_coco_layout)


def test_scenes_are_deterministic_and_labels_match_pixels():
    a = draw_scene(np.random.default_rng(3), 64, 8)
    b = draw_scene(np.random.default_rng(3), 64, 8)
    np.testing.assert_array_equal(a[0], b[0])
    image, labels, objects = a
    assert image.shape == (64, 64, 3) and image.dtype == np.uint8
    assert set(np.unique(labels)) - {-1} == {o.label for o in objects}


def test_class_is_learnable_from_pixel_colour():
    """A nearest-mean classifier on pixel colour alone separates the classes: the scenes carry
    class information a segmentation model can learn (chance is 1/8)."""
    rng = np.random.default_rng(0)
    pixels, classes = [], []
    for _ in range(40):
        image, labels, _ = draw_scene(rng, 48, 8)
        inside = labels >= 0
        pixels.append(image[inside].astype(float))
        classes.append(labels[inside])
    x, y = np.concatenate(pixels), np.concatenate(classes)
    half = len(x) // 2
    means = np.stack([x[:half][y[:half] == k].mean(0) for k in range(8)])
    pred = ((x[half:, None] - means[None]) ** 2).sum(-1).argmin(1)
    assert (pred == y[half:]).mean() > 0.8


def test_ade20k_layout_reads_through_mmseg(tmp_path):
    from mmseg.datasets import ADE20KDataset
    data_root = write_ade20k_layout(str(tmp_path), num_train=4, num_val=2, size=32, seed=1)
    assert data_root == osp.join(tmp_path, 'ADEChallengeData2016')
    dataset = ADE20KDataset(
        data_root=data_root, data_prefix=dict(img_path='images/validation',
                                              seg_map_path='annotations/validation'),
        pipeline=[dict(type='mmseg.LoadImageFromFile'),
                  dict(type='mmseg.LoadAnnotations')])  # the dataset reduces 0
    assert len(dataset) == 2
    sample = dataset[0]
    seg = sample['gt_seg_map']
    classes = dataset.metainfo['classes']
    present = {classes[v] for v in np.unique(seg) if v != 255}
    assert present and present <= set(ADE20K_SCENE_CLASSES)
    # 0 ("other") became the ignore index; the objects kept their ADE20K class
    raw = np.asarray(Image.open(sample['seg_map_path']))
    assert ((raw == 0) == (seg == 255)).all()


def test_coco_layout_reads_through_mmdet(tmp_path):
    from mmdet.datasets import CocoDataset
    root = write_coco_layout(str(tmp_path), num_train=3, num_val=2, size=48, seed=2)
    with open(osp.join(root, 'annotations', 'instances_train2017.json')) as f:
        coco = json.load(f)
    assert [c['id'] for c in coco['categories']] == list(COCO_CATEGORY_IDS)
    for ann in coco['annotations']:
        xs, ys = np.asarray(ann['segmentation'][0]).reshape(-1, 2).T
        assert ann['bbox'] == pytest.approx([xs.min(), ys.min(), np.ptp(xs), np.ptp(ys)],
                                            abs=0.01)
        assert 0 < ann['area'] <= ann['bbox'][2] * ann['bbox'][3]
    dataset = CocoDataset(data_root=root, ann_file='annotations/instances_train2017.json',
                          data_prefix=dict(img='train2017/'), pipeline=[],
                          filter_cfg=dict(filter_empty_gt=False))
    assert len(dataset) == 3
    instances = [i for k in range(3) for i in dataset.get_data_info(k)['instances']]
    assert len(instances) == len(coco['annotations'])
    names = {dataset.metainfo['classes'][i['bbox_label']] for i in instances}
    assert names <= {'person', 'car', 'chair', 'bottle', 'dog', 'sports ball'}
