"""Generated scenes written in ADE20K's and COCO's exact on-disk layouts.

ADE20K and COCO cannot be downloaded here, so the downstream configs (which point at the real
layouts) are exercised on tiny generated sets that mmseg's ``ADE20KDataset`` and mmdet's
``CocoDataset`` read unchanged. The scenes are learnable: every object is a shape whose class
fixes its outline, colour and stripe texture, on a random low-contrast background; objects do not
overlap, so each instance's polygon is its exact mask.

Layouts written (only ``root`` differs from the real data sets):

ADE20K (``write_ade20k_layout``)::

    root/ADEChallengeData2016/images/{training,validation}/ADE_{train,val}_%08d.jpg
    root/ADEChallengeData2016/annotations/{training,validation}/ADE_{train,val}_%08d.png

    PNG labels are uint8: 0 = "other" (ignored under mmseg's ``reduce_zero_label=True``),
    k = the k-th of ADE20K's 150 classes (1-based), as in the real annotations.

COCO (``write_coco_layout``)::

    root/{train2017,val2017}/%012d.jpg
    root/annotations/instances_{train,val}2017.json

    80 categories with COCO's own ids and names; each annotation has a polygon ``segmentation``,
    an ``[x, y, w, h]`` ``bbox``, its ``area`` (polygon area) and ``iscrowd`` 0.
"""
import json
import math
import os
import os.path as osp
from dataclasses import dataclass
from typing import Dict, List, Sequence, Tuple

import numpy as np
from PIL import Image, ImageDraw

# COCO's 80 category ids (1..90 with gaps) in the order of mmdet's CocoDataset classes.
COCO_CATEGORY_IDS = (
    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 27, 28,
    31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55,
    56, 57, 58, 59, 60, 61, 62, 63, 64, 65, 67, 70, 72, 73, 74, 75, 76, 77, 78, 79, 80, 81, 82, 84,
    85, 86, 87, 88, 89, 90)

# The classes that appear in generated scenes, by name (they exist in both label sets' naming:
# ADE20K's 150 classes / COCO's 80 are looked up by name in mmseg's / mmdet's metainfo).
ADE20K_SCENE_CLASSES = ('wall', 'tree', 'person', 'car', 'chair', 'lamp', 'box', 'ball')
COCO_SCENE_CLASSES = ('person', 'car', 'chair', 'bottle', 'dog', 'sports ball')

SHAPES = ('circle', 'square', 'triangle', 'diamond', 'hexagon', 'cross', 'wide', 'tall')


@dataclass
class SceneObject:
    """One object of a scene: its class index in the scene's class list and its polygon."""
    label: int
    polygon: List[Tuple[float, float]]


def _polygon(shape: str, cx: float, cy: float, r: float) -> List[Tuple[float, float]]:
    if shape == 'circle':
        return [(cx + r * math.cos(t), cy + r * math.sin(t))
                for t in np.linspace(0, 2 * math.pi, 24, endpoint=False)]
    if shape in ('triangle', 'diamond', 'hexagon'):
        sides = dict(triangle=3, diamond=4, hexagon=6)[shape]
        return [(cx + r * math.cos(t - math.pi / 2), cy + r * math.sin(t - math.pi / 2))
                for t in np.linspace(0, 2 * math.pi, sides, endpoint=False)]
    if shape == 'cross':
        a, b = r, r / 3
        pts = [(-b, -a), (b, -a), (b, -b), (a, -b), (a, b), (b, b), (b, a), (-b, a), (-b, b),
               (-a, b), (-a, -b), (-b, -b)]
        return [(cx + x, cy + y) for x, y in pts]
    half_w, half_h = dict(square=(r, r), wide=(r, r / 2), tall=(r / 2, r))[shape]
    return [(cx - half_w, cy - half_h), (cx + half_w, cy - half_h), (cx + half_w, cy + half_h),
            (cx - half_w, cy + half_h)]


def _class_style(label: int, num_classes: int):
    """Colour (RGB), stripe frequency and angle fixed by the class."""
    hue = label / num_classes
    colour = np.array([0.5 + 0.5 * math.cos(2 * math.pi * (hue + k / 3)) for k in range(3)])
    return colour * 205 + 25, 0.15 + 0.1 * (label % 3), math.pi * label / num_classes


def draw_scene(rng: np.random.Generator, size: int, num_classes: int, max_objects: int = 4
               ) -> Tuple[np.ndarray, np.ndarray, List[SceneObject]]:
    """One scene: (H, W, 3) uint8 image, (H, W) int label map (-1 = background, else the class
    index in [0, num_classes)), and its objects. Class k is drawn as shape SHAPES[k % 8]."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    # background: a random tint with smooth low-frequency variation and pixel noise
    phase = rng.uniform(0, 2 * math.pi, size=2)
    image = (rng.uniform(80, 170, size=3)[None, None]
             + 25 * np.sin(xx / size * 3 + phase[0])[..., None]
             * np.cos(yy / size * 2 + phase[1])[..., None]
             + rng.normal(0, 6, size=(size, size, 3)))
    labels = np.full((size, size), -1, dtype=np.int64)
    objects, boxes = [], []
    for _ in range(int(rng.integers(1, max_objects + 1))):
        for _attempt in range(20):
            r = rng.uniform(0.12, 0.22) * size
            cx, cy = rng.uniform(r + 1, size - r - 1, size=2)
            box = (cx - r, cy - r, cx + r, cy + r)
            if all(box[2] < b[0] or b[2] < box[0] or box[3] < b[1] or b[3] < box[1]
                   for b in boxes):
                break
        else:
            continue
        label = int(rng.integers(num_classes))
        polygon = _polygon(SHAPES[label % len(SHAPES)], cx, cy, r)
        canvas = Image.new('L', (size, size), 0)
        ImageDraw.Draw(canvas).polygon(polygon, fill=1)
        inside = np.asarray(canvas, dtype=bool)
        if inside.sum() < 4:
            continue
        colour, freq, angle = _class_style(label, num_classes)
        stripes = 0.8 + 0.2 * np.sin(freq * (xx * math.cos(angle) + yy * math.sin(angle)))
        image[inside] = (colour[None] * stripes[inside][:, None]
                         + rng.normal(0, 5, size=(int(inside.sum()), 3)))
        labels[inside] = label
        boxes.append(box)
        objects.append(SceneObject(label, [(float(x), float(y)) for x, y in polygon]))
    return np.clip(image, 0, 255).astype(np.uint8), labels, objects


def _class_indices(names: Sequence[str], all_classes: Sequence[str], what: str) -> List[int]:
    missing = [n for n in names if n not in all_classes]
    if missing:
        raise ValueError(f'{what} has no class named {missing}; its classes: {all_classes}')
    return [list(all_classes).index(n) for n in names]


def ade20k_classes() -> Tuple[str, ...]:
    from mmseg.datasets import ADE20KDataset
    return tuple(ADE20KDataset.METAINFO['classes'])


def coco_classes() -> Tuple[str, ...]:
    from mmdet.datasets import CocoDataset
    return tuple(CocoDataset.METAINFO['classes'])


def write_ade20k_layout(root: str, num_train: int, num_val: int, size: int = 128, seed: int = 0,
                        classes: Sequence[str] = ADE20K_SCENE_CLASSES) -> str:
    """Write a generated set in ADE20K's layout under ``root``; returns the data root that an
    mmseg ADE20K config takes (``root/ADEChallengeData2016``)."""
    index = _class_indices(classes, ade20k_classes(), "mmseg's ADE20KDataset")
    data_root = osp.join(root, 'ADEChallengeData2016')
    rng = np.random.default_rng(seed)
    for split, tag, count in (('training', 'train', num_train), ('validation', 'val', num_val)):
        img_dir = osp.join(data_root, 'images', split)
        ann_dir = osp.join(data_root, 'annotations', split)
        os.makedirs(img_dir, exist_ok=True)
        os.makedirs(ann_dir, exist_ok=True)
        for i in range(1, count + 1):
            image, labels, _ = draw_scene(rng, size, len(classes))
            ade = np.zeros(labels.shape, dtype=np.uint8)  # 0 = other
            for k, cls in enumerate(index):
                ade[labels == k] = cls + 1
            name = f'ADE_{tag}_{i:08d}'
            Image.fromarray(image).save(osp.join(img_dir, name + '.jpg'), quality=95)
            Image.fromarray(ade).save(osp.join(ann_dir, name + '.png'))
    return data_root


def _polygon_area(polygon: Sequence[Tuple[float, float]]) -> float:
    x, y = np.asarray(polygon).T
    return float(abs(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1))) / 2)


def write_coco_layout(root: str, num_train: int, num_val: int, size: int = 128, seed: int = 0,
                      classes: Sequence[str] = COCO_SCENE_CLASSES) -> str:
    """Write a generated set in COCO's layout under ``root`` (returned: the data root that an
    mmdet COCO config takes)."""
    all_classes = coco_classes()
    index = _class_indices(classes, all_classes, "mmdet's CocoDataset")
    categories = [dict(id=cid, name=name, supercategory='generated')
                  for cid, name in zip(COCO_CATEGORY_IDS, all_classes)]
    rng = np.random.default_rng(seed)
    os.makedirs(osp.join(root, 'annotations'), exist_ok=True)
    image_id = ann_id = 0
    for split, count in (('train2017', num_train), ('val2017', num_val)):
        os.makedirs(osp.join(root, split), exist_ok=True)
        images: List[Dict] = []
        annotations: List[Dict] = []
        for _ in range(count):
            image_id += 1
            image, _, objects = draw_scene(rng, size, len(classes))
            file_name = f'{image_id:012d}.jpg'
            Image.fromarray(image).save(osp.join(root, split, file_name), quality=95)
            images.append(dict(id=image_id, file_name=file_name, width=size, height=size))
            for obj in objects:
                ann_id += 1
                xs, ys = np.asarray(obj.polygon).T
                annotations.append(dict(
                    id=ann_id, image_id=image_id,
                    category_id=COCO_CATEGORY_IDS[index[obj.label]],
                    segmentation=[[round(v, 2) for xy in obj.polygon for v in xy]],
                    bbox=[float(xs.min()), float(ys.min()), float(xs.max() - xs.min()),
                          float(ys.max() - ys.min())],
                    area=_polygon_area(obj.polygon), iscrowd=0))
        with open(osp.join(root, 'annotations', f'instances_{split}.json'), 'w') as f:
            json.dump(dict(info=dict(description='mimlab generated scenes', year=2026),
                           licenses=[], images=images, annotations=annotations,
                           categories=categories), f)
    return root
