"""Generated scenes written in ADE20K's and COCO's exact on-disk layouts.

ADE20K and COCO cannot be downloaded here, so the downstream configs (which point at the real
layouts) are exercised on tiny generated sets that mmseg's dataset classes and mmdet's
``CocoDataset`` read unchanged. Two kinds of scene:

- colour shapes (:func:`draw_scene`, :func:`shape_scenes`): every object is a shape whose class
  fixes its outline, colour and stripe texture, on a random low-contrast background; objects do
  not overlap, so each instance's polygon is its exact mask. Labelled with ADE20K's / COCO's own
  class names. Easy: a pixel's colour gives its class.
- garments (:func:`draw_garment_scene`, :func:`garment_scenes`): grey canvases with 1-4
  Fashion-MNIST garments at random positions and scales, overlapping in depth order, on a
  cluttered ground; each instance's mask is its visible pixels. The class is the Fashion-MNIST
  label (ten names, ``FASHION_MNIST_CLASSES``, given to the datasets as ``metainfo``); a
  pixel's grey level says little about it, the garment's shape does. Training scenes use only
  Fashion-MNIST's training split, validation scenes only its test split, so no validation
  garment was seen in pretraining on the training split.

Layouts written (only ``root`` differs from the real data sets):

ADE20K (``write_ade20k_layout``)::

    root/ADEChallengeData2016/images/{training,validation}/ADE_{train,val}_%08d.jpg
    root/ADEChallengeData2016/annotations/{training,validation}/ADE_{train,val}_%08d.png

    PNG labels are uint8: 0 = "other" (ignored under mmseg's ``reduce_zero_label=True``),
    k = the k-th of ADE20K's 150 classes (1-based), as in the real annotations (shapes), or
    of the ten garment classes (garments; read with mmseg's ``BaseSegDataset`` and
    ``metainfo=dict(classes=FASHION_MNIST_CLASSES)``: ``ADE20KDataset`` maps custom class names
    onto its own 150 and refuses names it does not have).

COCO (``write_coco_layout``)::

    root/{train2017,val2017}/%012d.jpg
    root/annotations/instances_{train,val}2017.json

    Shapes: 80 categories with COCO's own ids and names; each annotation has a polygon
    ``segmentation``, an ``[x, y, w, h]`` ``bbox``, its ``area`` (polygon area) and ``iscrowd`` 0.
    Garments: ten categories, ids 1-10, Fashion-MNIST's names; the ``segmentation`` is the
    visible pixels as compressed RLE, ``area`` their count, ``bbox`` their tight box.
"""
import json
import math
import os
import os.path as osp
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
from PIL import Image, ImageDraw

from .image_dataset import FASHION_MNIST_CLASSES, IDX_SPLITS, find_idx, read_idx

FASHION_MNIST_ROOT = '/usr/share/datasets/fashion-mnist'

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
    """One object of a scene: its class index in the scene's class list, its visible pixels and,
    for a polygon that nothing occludes, its exact outline (written as a COCO polygon)."""
    label: int
    mask: np.ndarray  # (H, W) bool
    polygon: Optional[List[Tuple[float, float]]] = None


@dataclass
class Scene:
    """A drawn scene: the (H, W, 3) uint8 image, the (H, W) int64 label map (-1 = background,
    else the class index) and the objects, in drawing order."""
    image: np.ndarray
    labels: np.ndarray
    objects: List[SceneObject]


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
               ) -> Scene:
    """One colour-shape scene with classes in [0, num_classes); class k is drawn as shape
    SHAPES[k % 8]."""
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
        objects.append(SceneObject(label, inside, [(float(x), float(y)) for x, y in polygon]))
    return Scene(np.clip(image, 0, 255).astype(np.uint8), labels, objects)


# ---------------------------------------------------------------- garment scenes

def load_garments(data_root: str, split: str) -> Tuple[np.ndarray, np.ndarray]:
    """Fashion-MNIST's (N, 28, 28) uint8 images and (N,) labels of ``split`` ('train' or
    'test'), read from the idx archives in ``data_root``."""
    found = find_idx(data_root, split)
    if found is None:
        raise FileNotFoundError(
            f'no Fashion-MNIST idx archives for split {split!r} in {data_root!r} (expected '
            f'{IDX_SPLITS.get(split, split)}-{{images-idx3,labels-idx1}}-ubyte[.gz]; '
            f'Debian: apt-get install dataset-fashion-mnist)')
    return read_idx(found[0]), read_idx(found[1])


def _fill_holes(mask: np.ndarray) -> np.ndarray:
    """The mask with every region that the border cannot reach through ~mask filled in."""
    outside = np.zeros_like(mask)
    outside[[0, -1], :] = ~mask[[0, -1], :]
    outside[:, [0, -1]] |= ~mask[:, [0, -1]]
    while True:
        grown = outside.copy()
        grown[1:] |= outside[:-1]
        grown[:-1] |= outside[1:]
        grown[:, 1:] |= outside[:, :-1]
        grown[:, :-1] |= outside[:, 1:]
        grown &= ~mask
        if (grown == outside).all():
            return ~outside
        outside = grown


def garment_silhouette(garment: np.ndarray, threshold: int = 10) -> np.ndarray:
    """The (28, 28) bool silhouette of a Fashion-MNIST garment: its pixels above ``threshold``
    (the photos' background is black) with enclosed holes filled, so a dark print on a shirt
    stays part of the shirt."""
    return _fill_holes(garment > threshold)


def _cluttered_background(rng: np.random.Generator, size: int) -> np.ndarray:
    """A (size, size) float grey background: a random level, a smooth shading, a faint stripe
    texture and 3-8 clutter patches (ellipses, boxes, strokes) of any grey level, so that no
    grey threshold separates garments from the ground."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    phase = rng.uniform(0, 2 * math.pi, size=3)
    freq, angle = rng.uniform(6, 16), rng.uniform(0, math.pi)
    ground = (rng.uniform(30, 190)
              + 20 * np.sin(3 * xx + phase[0]) * np.cos(2 * yy + phase[1])
              + 8 * np.sin(2 * math.pi * freq * (xx * math.cos(angle) + yy * math.sin(angle))
                           + phase[2]))
    clutter = Image.new('L', (size, size), 0)
    alpha = Image.new('L', (size, size), 0)
    draw_c, draw_a = ImageDraw.Draw(clutter), ImageDraw.Draw(alpha)
    for _ in range(int(rng.integers(3, 9))):
        x0, y0 = rng.uniform(-0.1, 0.9, size=2) * size
        w, h = rng.uniform(0.05, 0.35, size=2) * size
        box = [x0, y0, x0 + w, y0 + h]
        grey, opacity = int(rng.integers(0, 256)), int(rng.integers(60, 200))
        kind = rng.integers(3)
        for draw, value in ((draw_c, grey), (draw_a, opacity)):
            if kind == 0:
                draw.ellipse(box, fill=value)
            elif kind == 1:
                draw.rectangle(box, fill=value)
            else:
                draw.line(box, fill=value, width=max(1, int(size / 32)))
    a = np.asarray(alpha, dtype=np.float32) / 255
    return ground * (1 - a) + np.asarray(clutter, dtype=np.float32) * a


def draw_garment_scene(rng: np.random.Generator, garments: np.ndarray, garment_labels: np.ndarray,
                       size: int, max_objects: int = 4,
                       scale: Tuple[float, float] = (0.3, 0.65),
                       min_visible: float = 0.5) -> Scene:
    """One grey scene of 1 to ``max_objects`` Fashion-MNIST garments on a cluttered ground.

    Each garment is a random photo of ``garments`` (N, 28, 28), resized to a square of side
    ``scale`` x ``size`` (at 64 px: 19-42 px), placed at a random position and painted over
    the ones before it (depth order) with a random gain and offset of its grey levels, so a
    grey level says little about the class. A placement that would leave an earlier garment
    with less than ``min_visible`` of its own pixels is redrawn (20 tries, then the garment is
    skipped). Objects carry their visible pixels; the class is the Fashion-MNIST label.
    """
    image = _cluttered_background(rng, size)
    owner = np.full((size, size), -1, dtype=np.int64)
    full_masks: List[np.ndarray] = []
    placed_labels: List[int] = []
    for _ in range(int(rng.integers(1, max_objects + 1))):
        index = int(rng.integers(len(garments)))
        side = int(round(rng.uniform(*scale) * size))
        photo = Image.fromarray(garments[index])
        tile = np.asarray(photo.resize((side, side), Image.BILINEAR), dtype=np.float32)
        silhouette = np.asarray(Image.fromarray(garment_silhouette(garments[index])).resize(
            (side, side), Image.NEAREST), dtype=bool)
        for _attempt in range(20):
            y0, x0 = rng.integers(0, size - side + 1, size=2)
            mask = np.zeros((size, size), dtype=bool)
            mask[y0:y0 + side, x0:x0 + side] = silhouette
            if all(((owner == j) & ~mask).sum() >= min_visible * full.sum()
                   for j, full in enumerate(full_masks)):
                break
        else:
            continue
        gain, offset = rng.uniform(0.55, 1.0), rng.uniform(0, 70)
        image[y0:y0 + side, x0:x0 + side][silhouette] = offset + gain * tile[silhouette]
        owner[mask] = len(full_masks)
        full_masks.append(mask)
        placed_labels.append(int(garment_labels[index]))
    image = np.clip(image + rng.normal(0, 4, size=image.shape), 0, 255).astype(np.uint8)
    labels = np.full((size, size), -1, dtype=np.int64)
    objects = []
    for j, label in enumerate(placed_labels):
        labels[owner == j] = label
        objects.append(SceneObject(label, owner == j))
    return Scene(np.repeat(image[..., None], 3, axis=2), labels, objects)


# ---------------------------------------------------------------- what a writer needs

@dataclass
class SceneSource:
    """A kind of scene as the layout writers take it.

    Args:
        draw: ``draw(rng, split)`` -> :class:`Scene`, split 'train' or 'val'.
        ade20k_values: the PNG value of class k in ADE20K's layout (0 is "other").
        coco_categories: the ``categories`` of the COCO files.
        coco_ids: the category id of class k.
    """
    draw: Callable[[np.random.Generator, str], Scene]
    ade20k_values: Sequence[int]
    coco_categories: List[Dict]
    coco_ids: Sequence[int]


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


def shape_scenes(size: int, ade20k_names: Sequence[str] = ADE20K_SCENE_CLASSES,
                 coco_names: Sequence[str] = COCO_SCENE_CLASSES, layout: str = 'ade20k'
                 ) -> SceneSource:
    """The colour-shape scenes, labelled with ADE20K's or COCO's own classes (looked up by name
    in mmseg's / mmdet's metainfo, so the configs need no ``metainfo``)."""
    if layout == 'ade20k':
        names = ade20k_names
        ade = [i + 1 for i in _class_indices(names, ade20k_classes(), "mmseg's ADE20KDataset")]
        categories, ids = [], []
    else:
        names, ade = coco_names, []
        all_classes = coco_classes()
        index = _class_indices(names, all_classes, "mmdet's CocoDataset")
        categories = [dict(id=cid, name=name, supercategory='generated')
                      for cid, name in zip(COCO_CATEGORY_IDS, all_classes)]
        ids = [COCO_CATEGORY_IDS[i] for i in index]
    return SceneSource(lambda rng, split: draw_scene(rng, size, len(names)), ade, categories, ids)


def garment_scenes(size: int, data_root: str = FASHION_MNIST_ROOT, max_objects: int = 4,
                   scale: Tuple[float, float] = (0.3, 0.65)) -> SceneSource:
    """Fashion-MNIST garment scenes (:func:`draw_garment_scene`): training scenes draw only the
    training split's garments, validation scenes only the test split's. Ten classes,
    ``FASHION_MNIST_CLASSES``: PNG value k + 1, COCO category id k + 1."""
    splits = dict(train=load_garments(data_root, 'train'), val=load_garments(data_root, 'test'))
    categories = [dict(id=k + 1, name=name, supercategory='garment')
                  for k, name in enumerate(FASHION_MNIST_CLASSES)]
    ids = [k + 1 for k in range(len(FASHION_MNIST_CLASSES))]

    def draw(rng: np.random.Generator, split: str) -> Scene:
        return draw_garment_scene(rng, *splits[split], size, max_objects=max_objects,
                                  scale=scale)
    return SceneSource(draw, ids, categories, ids)


# ---------------------------------------------------------------- the layouts

def write_ade20k_layout(root: str, num_train: int, num_val: int, size: int = 128, seed: int = 0,
                        classes: Sequence[str] = ADE20K_SCENE_CLASSES,
                        scenes: Optional[SceneSource] = None) -> str:
    """Write a generated set in ADE20K's layout under ``root``; returns the data root that an
    mmseg ADE20K config takes (``root/ADEChallengeData2016``). ``scenes``: the kind of scene
    (default: colour shapes of the ADE20K ``classes``, ``size`` px)."""
    scenes = scenes or shape_scenes(size, ade20k_names=classes, layout='ade20k')
    data_root = osp.join(root, 'ADEChallengeData2016')
    rng = np.random.default_rng(seed)
    for split, tag, count in (('training', 'train', num_train), ('validation', 'val', num_val)):
        img_dir = osp.join(data_root, 'images', split)
        ann_dir = osp.join(data_root, 'annotations', split)
        os.makedirs(img_dir, exist_ok=True)
        os.makedirs(ann_dir, exist_ok=True)
        for i in range(1, count + 1):
            scene = scenes.draw(rng, tag)
            ade = np.zeros(scene.labels.shape, dtype=np.uint8)  # 0 = other
            for k, value in enumerate(scenes.ade20k_values):
                ade[scene.labels == k] = value
            name = f'ADE_{tag}_{i:08d}'
            Image.fromarray(scene.image).save(osp.join(img_dir, name + '.jpg'), quality=95)
            Image.fromarray(ade).save(osp.join(ann_dir, name + '.png'))
    return data_root


def _polygon_area(polygon: Sequence[Tuple[float, float]]) -> float:
    x, y = np.asarray(polygon).T
    return float(abs(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1))) / 2)


def _coco_shape(obj: SceneObject) -> Dict:
    """``segmentation``, ``bbox`` and ``area`` of an object: its polygon where it has one, else
    its visible pixels as compressed RLE (what COCO uses for masks that are not one outline)."""
    if obj.polygon is not None:
        xs, ys = np.asarray(obj.polygon).T
        return dict(segmentation=[[round(v, 2) for xy in obj.polygon for v in xy]],
                    bbox=[float(xs.min()), float(ys.min()), float(xs.max() - xs.min()),
                          float(ys.max() - ys.min())],
                    area=_polygon_area(obj.polygon))
    from pycocotools import mask as mask_utils
    rle = mask_utils.encode(np.asfortranarray(obj.mask.astype(np.uint8)))
    rle['counts'] = rle['counts'].decode('ascii')
    ys, xs = np.nonzero(obj.mask)
    return dict(segmentation=rle,
                bbox=[float(xs.min()), float(ys.min()), float(xs.max() + 1 - xs.min()),
                      float(ys.max() + 1 - ys.min())],
                area=float(obj.mask.sum()))


def write_coco_layout(root: str, num_train: int, num_val: int, size: int = 128, seed: int = 0,
                      classes: Sequence[str] = COCO_SCENE_CLASSES,
                      scenes: Optional[SceneSource] = None) -> str:
    """Write a generated set in COCO's layout under ``root`` (returned: the data root that an
    mmdet COCO config takes). ``scenes``: the kind of scene (default: colour shapes of the
    COCO ``classes``, ``size`` px)."""
    scenes = scenes or shape_scenes(size, coco_names=classes, layout='coco')
    rng = np.random.default_rng(seed)
    os.makedirs(osp.join(root, 'annotations'), exist_ok=True)
    image_id = ann_id = 0
    for split, tag, count in (('train2017', 'train', num_train), ('val2017', 'val', num_val)):
        os.makedirs(osp.join(root, split), exist_ok=True)
        images: List[Dict] = []
        annotations: List[Dict] = []
        for _ in range(count):
            image_id += 1
            scene = scenes.draw(rng, tag)
            height, width = scene.labels.shape
            file_name = f'{image_id:012d}.jpg'
            Image.fromarray(scene.image).save(osp.join(root, split, file_name), quality=95)
            images.append(dict(id=image_id, file_name=file_name, width=width, height=height))
            for obj in scene.objects:
                ann_id += 1
                annotations.append(dict(id=ann_id, image_id=image_id,
                                        category_id=scenes.coco_ids[obj.label],
                                        iscrowd=0, **_coco_shape(obj)))
        with open(osp.join(root, 'annotations', f'instances_{split}.json'), 'w') as f:
            json.dump(dict(info=dict(description='mimlab generated scenes', year=2026),
                           licenses=[], images=images, annotations=annotations,
                           categories=scenes.coco_categories), f)
    return root
