"""The generated ADE20K/COCO-layout sets: read by mmseg's and mmdet's own dataset classes."""
import gzip
import json
import os.path as osp

import numpy as np
import pytest
from conftest import FASHION_MNIST
from PIL import Image

from mimlab.datasets import FASHION_MNIST_CLASSES
from mimlab.datasets.scenes import (ADE20K_SCENE_CLASSES, COCO_CATEGORY_IDS, draw_garment_scene,
                                    draw_scene, garment_scenes, garment_silhouette,
                                    write_ade20k_layout, write_coco_layout)


def test_scenes_are_deterministic_and_labels_match_pixels():
    a = draw_scene(np.random.default_rng(3), 64, 8)
    b = draw_scene(np.random.default_rng(3), 64, 8)
    np.testing.assert_array_equal(a.image, b.image)
    assert a.image.shape == (64, 64, 3) and a.image.dtype == np.uint8
    assert set(np.unique(a.labels)) - {-1} == {o.label for o in a.objects}


def test_class_is_learnable_from_pixel_colour():
    """A nearest-mean classifier on pixel colour alone separates the classes: the scenes carry
    class information a segmentation model can learn (chance is 1/8)."""
    rng = np.random.default_rng(0)
    pixels, classes = [], []
    for _ in range(40):
        scene = draw_scene(rng, 48, 8)
        inside = scene.labels >= 0
        pixels.append(scene.image[inside].astype(float))
        classes.append(scene.labels[inside])
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


# ---------------------------------------------------------------- garment scenes

def write_idx(folder, prefix: str, images: np.ndarray, labels: np.ndarray) -> None:
    """Fashion-MNIST-style gzipped idx archives (uint8 images and labels)."""
    for kind, array in (('images-idx3', images), ('labels-idx1', labels)):
        header = bytes([0, 0, 0x08, array.ndim]) + b''.join(
            int(d).to_bytes(4, 'big') for d in array.shape)
        with gzip.open(osp.join(folder, f'{prefix}-{kind}-ubyte.gz'), 'wb') as f:
            f.write(header + array.astype(np.uint8).tobytes())


def fake_fashion_mnist(folder, train_labels, test_labels):
    """Idx archives whose garments are bright 14x14 squares; the labels are as given."""
    folder.mkdir()
    for prefix, labels in (('train', train_labels), ('t10k', test_labels)):
        images = np.zeros((len(labels), 28, 28), dtype=np.uint8)
        images[:, 7:21, 7:21] = 200
        write_idx(str(folder), prefix, images, np.asarray(labels))
    return str(folder)


def test_silhouette_fills_a_dark_print_inside_the_garment():
    garment = np.zeros((28, 28), dtype=np.uint8)
    garment[4:24, 4:24] = 180
    garment[10:14, 10:14] = 0  # a dark print: part of the garment, not background
    silhouette = garment_silhouette(garment)
    assert silhouette[10:14, 10:14].all() and silhouette.sum() == 400
    garment[0:24, 10:14] = 0  # open to the border: a real gap
    assert not garment_silhouette(garment)[0:10, 10:14].any()


def test_garment_scene_masks_are_the_visible_pixels_in_depth_order():
    garments = np.zeros((3, 28, 28), dtype=np.uint8)
    garments[:, 2:26, 2:26] = 220
    labels = np.array([3, 7, 9])
    for seed in range(20):
        scene = draw_garment_scene(np.random.default_rng(seed), garments, labels, 48,
                                   max_objects=4, min_visible=0.5)
        again = draw_garment_scene(np.random.default_rng(seed), garments, labels, 48,
                                   max_objects=4, min_visible=0.5)
        np.testing.assert_array_equal(scene.image, again.image)
        assert scene.image.shape == (48, 48, 3)
        assert (scene.image[..., 0] == scene.image[..., 2]).all()  # grey
        masks = np.stack([o.mask for o in scene.objects])
        assert 1 <= len(scene.objects) <= 4 and (masks.sum(0) <= 1).all()  # disjoint
        np.testing.assert_array_equal(masks.any(0), scene.labels >= 0)
        for obj in scene.objects:
            assert (scene.labels[obj.mask] == obj.label).all() and obj.label in labels
        # a square garment's side is 0.3-0.65 of 48 px scaled by 24/28; at least half of it
        # stays visible under later garments
        smallest = (round(0.3 * 48) * 24 / 28 - 1) ** 2
        assert all(o.mask.sum() >= 0.5 * smallest for o in scene.objects)


def test_garment_train_and_val_scenes_use_their_own_split(tmp_path):
    """Training scenes draw only Fashion-MNIST's training garments (here labels 0-4),
    validation scenes only its test garments (labels 5-9)."""
    root = fake_fashion_mnist(tmp_path / 'fm', np.arange(50) % 5, 5 + np.arange(50) % 5)
    scenes = garment_scenes(32, root)
    data_root = write_ade20k_layout(str(tmp_path / 'ade'), 6, 6, seed=0, scenes=scenes)
    for split, allowed in (('training', set(range(1, 6))), ('validation', set(range(6, 11)))):
        values = set()
        for i in range(1, 7):
            tag = 'train' if split == 'training' else 'val'
            png = osp.join(data_root, 'annotations', split, f'ADE_{tag}_{i:08d}.png')
            values |= set(np.unique(np.asarray(Image.open(png)))) - {0}
        assert values and values <= allowed
    write_coco_layout(str(tmp_path / 'coco'), 6, 6, seed=0, scenes=scenes)
    for split, allowed in (('train2017', set(range(1, 6))), ('val2017', set(range(6, 11)))):
        with open(tmp_path / 'coco' / 'annotations' / f'instances_{split}.json') as f:
            coco = json.load(f)
        assert {a['category_id'] for a in coco['annotations']} <= allowed
        assert [c['name'] for c in coco['categories']] == list(FASHION_MNIST_CLASSES)


def test_garment_layouts_read_through_mmseg_and_mmdet(tmp_path):
    """The ADE20K and COCO layouts of the same scenes (same seed), read by mmseg's
    BaseSegDataset and mmdet's CocoDataset with the ten class names as metainfo, agree pixel for
    pixel: each class's COCO instance masks (decoded by mmdet) cover exactly its pixels in the
    ADE20K label map (decoded by mmseg)."""
    from mmdet.datasets import CocoDataset
    from mmseg.datasets import BaseSegDataset
    scenes = garment_scenes(48, FASHION_MNIST)
    ade_root = write_ade20k_layout(str(tmp_path / 'ade'), 3, 4, seed=5, scenes=scenes)
    coco_root = write_coco_layout(str(tmp_path / 'coco'), 3, 4, seed=5, scenes=scenes)
    seg = BaseSegDataset(
        data_root=ade_root, img_suffix='.jpg', seg_map_suffix='.png', reduce_zero_label=True,
        metainfo=dict(classes=FASHION_MNIST_CLASSES),
        data_prefix=dict(img_path='images/validation', seg_map_path='annotations/validation'),
        pipeline=[dict(type='mmseg.LoadImageFromFile'), dict(type='mmseg.LoadAnnotations')])
    det = CocoDataset(
        data_root=coco_root, ann_file='annotations/instances_val2017.json',
        data_prefix=dict(img='val2017/'), metainfo=dict(classes=FASHION_MNIST_CLASSES),
        test_mode=True, pipeline=[dict(type='mmdet.LoadImageFromFile'),
                                  dict(type='mmdet.LoadAnnotations', with_bbox=True,
                                       with_mask=True)])
    assert seg.metainfo['classes'] == det.metainfo['classes'] == FASHION_MNIST_CLASSES
    assert len(seg) == len(det) == 4
    num_instances = 0
    for i in range(4):
        seg_map = seg[i]['gt_seg_map']
        sample = det[i]
        np.testing.assert_array_equal(sample['img'], seg[i]['img'])
        masks = sample['gt_masks'].masks.astype(bool)
        labels = sample['gt_bboxes_labels']
        num_instances += len(labels)
        expected = np.full(seg_map.shape, 255)
        for mask, label in zip(masks, labels):
            expected[mask] = label
        np.testing.assert_array_equal(expected, seg_map)
        boxes = sample['gt_bboxes'].numpy()
        for mask, box in zip(masks, boxes):
            ys, xs = np.nonzero(mask)
            np.testing.assert_allclose(box, [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])
    assert num_instances >= 4


def grey_level_majority_accuracy(num_scenes: int, size: int = 64, seed: int = 0):
    """Accuracy of the best classifier that sees only a garment pixel's grey level (the
    majority class of each of the 256 levels, fitted on the very pixels it is scored on, so an
    upper bound), and the majority-class rate, over ``num_scenes`` validation scenes."""
    scenes = garment_scenes(size, FASHION_MNIST)
    rng = np.random.default_rng(seed)
    counts = np.zeros((256, len(FASHION_MNIST_CLASSES)), dtype=np.int64)
    for _ in range(num_scenes):
        scene = scenes.draw(rng, 'val')
        inside = scene.labels >= 0
        np.add.at(counts, (scene.image[..., 0][inside], scene.labels[inside]), 1)
    return counts.max(1).sum() / counts.sum(), counts.sum(0).max() / counts.sum()


def test_a_pixels_grey_level_does_not_give_its_class():
    accuracy, majority = grey_level_majority_accuracy(200)
    # measured at 64 px, 200 scenes: 0.181, where always answering the most frequent class
    # scores 0.156 and a classifier that knows the garment's shape can approach 1
    assert accuracy < 0.3 and majority < 0.2
