"""Pictures of downstream runs: a finished run's predictions (mmseg's class maps, mmdet's
detections) and the ground truth of the same images. mmseg and mmdet are imported where they
are used."""
import os
import os.path as osp
from dataclasses import dataclass
from typing import List, Sequence, Tuple

import numpy as np

from mimlab.engine.checkpoint import install_checkpoint_loader


def predict_segmentation(config: str, checkpoint: str, image_paths: Sequence[str]
                         ) -> List[np.ndarray]:
    """mmseg's predicted (H, W) class maps of the images (class indices of the config's
    metainfo) from a trained run."""
    from mmseg.apis import inference_model, init_model
    install_checkpoint_loader()  # a runner checkpoint, outside a runner
    model = init_model(config, checkpoint, device='cpu')
    return [inference_model(model, path).pred_sem_seg.data[0].numpy() for path in image_paths]


@dataclass
class Detections:
    """One image's detections: (K, 4) xyxy boxes, (K,) labels and scores, (K, H, W) masks."""
    boxes: np.ndarray
    labels: np.ndarray
    scores: np.ndarray
    masks: np.ndarray


def predict_detection(config: str, checkpoint: str, image_paths: Sequence[str],
                      score_thr: float = 0.3) -> List[Detections]:
    """mmdet's detections above ``score_thr`` on the images from a trained run."""
    from mmdet.apis import inference_detector, init_detector
    install_checkpoint_loader()  # a runner checkpoint, outside a runner
    model = init_detector(config, checkpoint, device='cpu')
    found = []
    for path in image_paths:
        pred = inference_detector(model, path).pred_instances
        keep = (pred.scores >= score_thr).numpy()
        found.append(Detections(pred.bboxes.numpy()[keep], pred.labels.numpy()[keep],
                                pred.scores.numpy()[keep], pred.masks.numpy()[keep]))
    return found


def coco_ground_truth(ann_file: str, image_dir: str, num_images: int
                      ) -> Tuple[List[str], List[Detections]]:
    """The first ``num_images`` images of a COCO file (paths) and their annotations as
    :class:`Detections` (labels: the index of the category in the file's category list)."""
    from pycocotools.coco import COCO
    coco = COCO(ann_file)
    cat_index = {c: i for i, c in enumerate(sorted(coco.getCatIds()))}
    paths, truths = [], []
    for image_id in sorted(coco.getImgIds())[:num_images]:
        info = coco.loadImgs(image_id)[0]
        anns = coco.loadAnns(coco.getAnnIds(imgIds=image_id))
        paths.append(osp.join(image_dir, info['file_name']))
        boxes = np.array([[a['bbox'][0], a['bbox'][1], a['bbox'][0] + a['bbox'][2],
                           a['bbox'][1] + a['bbox'][3]] for a in anns]).reshape(-1, 4)
        masks = np.stack([coco.annToMask(a) for a in anns]) if anns else np.zeros(
            (0, info['height'], info['width']), dtype=np.uint8)
        truths.append(Detections(boxes, np.array([cat_index[a['category_id']] for a in anns]),
                                 np.ones(len(anns)), masks.astype(bool)))
    return paths, truths


def ade20k_ground_truth(data_root: str, num_images: int,
                        split: str = 'validation') -> Tuple[List[str], List[np.ndarray]]:
    """The first ``num_images`` images of an ADE20K-layout split (paths) and their (H, W) class
    maps (PNG value - 1; -1 where the PNG says 0, "other")."""
    from PIL import Image
    names = sorted(n[:-4] for n in os.listdir(osp.join(data_root, 'images', split))
                   if n.endswith('.jpg'))[:num_images]
    paths = [osp.join(data_root, 'images', split, n + '.jpg') for n in names]
    maps = [np.asarray(Image.open(osp.join(data_root, 'annotations', split, n + '.png')),
                       dtype=np.int64) - 1 for n in names]
    return paths, maps
