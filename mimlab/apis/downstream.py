"""Downstream runs (mmseg, mmdet) of a pretrained encoder: their metrics, grids of runs over
seeds, label fractions and inits with their mean +- std tables, and predictions for pictures.

Used by ``tools/analysis_tools/downstream_metrics.py``, ``downstream_grid.py`` and
``visualize_downstream.py``. mmseg and mmdet are imported where they are used.
"""
import glob
import json
import os
import os.path as osp
import statistics
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from mimlab.engine.checkpoint import install_checkpoint_loader

# Metric keys in mmseg's / mmdet's logged scalars, and how tables name them.
METRICS = {'mIoU': 'mIoU', 'aAcc': 'pixel acc', 'coco/bbox_mAP': 'box AP',
           'coco/bbox_mAP_50': 'box AP50', 'coco/segm_mAP': 'mask AP',
           'coco/segm_mAP_50': 'mask AP50'}
# mmseg logs percentages, mmdet's CocoMetric fractions: tables show percentages.
PERCENT_SCALE = {k: 1 if k in ('mIoU', 'aAcc') else 100 for k in METRICS}
# The metrics a grid's table reports per task ('ddep': the U-Net of DDeP/DeP, segmentation).
TABLE_METRICS = dict(seg=('mIoU',), det=('coco/bbox_mAP', 'coco/segm_mAP'), ddep=('mIoU',))
# What each task's inits set, by ``--cfg-options``; {mae}, {ddep}, {dep} are the checkpoints of
# the MAE encoder, of a DDeP run (frozen MAE encoder, denoise-trained decoder) and of a DeP run
# (encoder and decoder denoise-trained from scratch). The 'ddep' task keeps its encoder frozen,
# so its inits differ in where the decoder (and for DeP the encoder) comes from.
INIT_OPTIONS = {
    'seg': {'mae': ['model.backbone.init_cfg.checkpoint={mae}'],
            'random': ['model.backbone.init_cfg=None']},
    'ddep': {'ddep': ['model.backbone.init_cfg.checkpoint={mae}',
                      'model.decode_head.decoder_checkpoint={ddep}'],
             'random': ['model.backbone.init_cfg.checkpoint={mae}',
                        'model.decode_head.decoder_checkpoint=None'],
             'dep': ['model.backbone.init_cfg.checkpoint={dep}',
                     'model.decode_head.decoder_checkpoint={dep}']},
}
INIT_OPTIONS['det'] = INIT_OPTIONS['seg']
INIT_ORDER = ('mae', 'ddep', 'dep', 'random')  # the columns of a table


def last_metrics(work_dir: str) -> Dict[str, float]:
    """The last validation metrics (``METRICS`` keys) of the newest run in ``work_dir``, read
    from its ``<timestamp>/vis_data/scalars.json`` (mmengine's LocalVisBackend); {} if none."""
    found: Dict[str, float] = {}
    runs = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')))
    if runs:
        with open(runs[-1]) as f:
            for line in f:
                record = json.loads(line)
                found.update({k: record[k] for k in METRICS if k in record})
    return found


def last_checkpoint(work_dir: str) -> str:
    """The checkpoint named in ``work_dir/last_checkpoint`` (written by mmengine's
    CheckpointHook)."""
    pointer = osp.join(work_dir, 'last_checkpoint')
    if not osp.isfile(pointer):
        raise FileNotFoundError(f'{pointer} is missing: has the run in {work_dir} finished?')
    with open(pointer) as f:
        return f.read().strip()


# ---------------------------------------------------------------- grids of runs

@dataclass(frozen=True)
class DownstreamCell:
    """One fine-tuning run of a grid: task ('seg', 'det' or 'ddep'), percent of the training
    labels, init (``INIT_OPTIONS[task]``: 'mae' or 'random' for seg and det; 'ddep', 'dep' or
    'random' (decoder) for ddep) and seed."""
    task: str
    percent: float
    init: str
    seed: int

    @property
    def name(self) -> str:
        return f'{self.task}_{self.percent:g}pct_{self.init}_seed{self.seed}'


def count_training_images(task: str, data_root: str) -> int:
    """How many training images a generated (or real) set holds: ADE20K's
    ``images/training`` (seg, ddep) or the images of COCO's ``instances_train2017.json``
    (det)."""
    if task in ('seg', 'ddep'):
        folder = osp.join(data_root, 'images', 'training')
        if not osp.isdir(folder):
            raise FileNotFoundError(f'{folder} is missing (data_root={data_root!r})')
        return len([n for n in os.listdir(folder) if n.endswith('.jpg')])
    ann_file = osp.join(data_root, 'annotations', 'instances_train2017.json')
    if not osp.isfile(ann_file):
        raise FileNotFoundError(f'{ann_file} is missing (data_root={data_root!r})')
    with open(ann_file) as f:
        return len(json.load(f)['images'])


def cell_options(cell: DownstreamCell, num_train: int, checkpoints: Dict[str, str]
                 ) -> List[str]:
    """The ``--cfg-options`` of a cell: its seed, its labelled subset (the first
    ``percent``% of the i.i.d. generated training scenes, ``train_dataloader.dataset.indices``)
    and its init (``INIT_OPTIONS``, with the checkpoints named by ``checkpoints``: 'mae',
    'ddep', 'dep')."""
    inits = INIT_OPTIONS.get(cell.task)
    if inits is None:
        raise ValueError(f"a cell's task is one of {sorted(INIT_OPTIONS)}, got {cell.task!r}")
    if cell.init not in inits:
        raise ValueError(f"a {cell.task} cell's init is one of {sorted(inits)}, got "
                         f"{cell.init!r}")
    options = [f'randomness.seed={cell.seed}']
    if cell.percent < 100:
        options.append(f'train_dataloader.dataset.indices={round(num_train * cell.percent / 100)}')
    for option in inits[cell.init]:
        try:
            options.append(option.format(**checkpoints))
        except KeyError as missing:
            raise ValueError(f'a {cell.task} cell with init {cell.init!r} needs the '
                             f'{missing.args[0]} checkpoint') from None
    return options


def _mean_std(values: Sequence[float]) -> str:
    if not values:
        return 'not run'
    if len(values) == 1:
        return f'{values[0]:.1f} (n=1)'
    return f'{statistics.mean(values):.1f} +- {statistics.stdev(values):.1f} (n={len(values)})'


def summarize_grid(results: Dict[DownstreamCell, Optional[Dict[str, float]]]
                   ) -> List[Dict[str, str]]:
    """Rows of mean +- std (in percent, sample std over seeds) per task, metric and label
    percent, one column per init (and the seeds that ran); a cell whose result is None, or
    lacks the metric, did not run."""
    results = {c: r or {} for c, r in results.items()}
    rows = []
    keys = sorted({(c.task, c.percent) for c in results},
                  key=lambda k: (list(TABLE_METRICS).index(k[0]), k[1]))
    inits = sorted({c.init for c in results}, key=INIT_ORDER.index)
    for task, percent in keys:
        for metric in TABLE_METRICS[task]:
            row = dict(task=task, metric=METRICS[metric], labels=f'{percent:g}%')
            for init in inits:
                values = [r[metric] * PERCENT_SCALE[metric] for c, r in results.items()
                          if (c.task, c.percent, c.init) == (task, percent, init) and metric in r]
                seeds = sorted(c.seed for c, r in results.items()
                               if (c.task, c.percent, c.init) == (task, percent, init)
                               and metric in r)
                row[init] = _mean_std(values)
                row[f'{init} seeds'] = ','.join(map(str, seeds)) or '-'
            rows.append(row)
    return rows


def format_table(rows: List[Dict[str, str]]) -> str:
    """A markdown table of :func:`summarize_grid`'s rows."""
    if not rows:
        return '(no finished runs)'
    header = list(rows[0])
    lines = ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
    lines += ['| ' + ' | '.join(row[h] for h in header) + ' |' for row in rows]
    return '\n'.join(lines)


# ---------------------------------------------------------------- predictions for pictures

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


def run_label(metrics: Dict[str, float], task: str) -> str:
    """The metrics of a run as a short caption (in percent)."""
    return ', '.join(f'{METRICS[k]} {metrics[k] * PERCENT_SCALE[k]:.1f}'
                     for k in TABLE_METRICS[task]
                     if k in metrics) or 'no metrics'


def cell_dir(work_dir: str, cell: DownstreamCell) -> str:
    """Where a grid cell's run writes: ``work_dir/<cell name>``."""
    return osp.join(work_dir, cell.name)


def finished(work_dir: str, cell: DownstreamCell) -> Optional[Dict[str, float]]:
    """The cell's metrics if its run has finished (logged every table metric), else None."""
    metrics = last_metrics(cell_dir(work_dir, cell))
    return metrics if all(k in metrics for k in TABLE_METRICS[cell.task]) else None
