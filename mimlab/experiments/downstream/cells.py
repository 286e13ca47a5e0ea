"""The cells of a downstream grid (mmseg, mmdet or DDeP's U-Net fine-tuned over seeds, label
fractions and inits): their options, whether they finished, and the mean +- std table."""
import json
import os
import os.path as osp
import statistics
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence

from mimlab.engine.workdir import final_metrics

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
    """The last validation metrics (``METRICS`` keys) of the newest run in ``work_dir``
    (:func:`~mimlab.engine.workdir.final_metrics`); {} if none."""
    return final_metrics(work_dir, METRICS)


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

    def folder(self, work_dir: str) -> str:
        """Where the cell's run writes in a grid's ``work_dir``: ``work_dir/<name>``."""
        return osp.join(work_dir, self.name)


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


def cell_checkpoints(cell: DownstreamCell, checkpoints: Dict[str, str]) -> Dict[str, str]:
    """The checkpoints a cell loads: ``checkpoints`` with ``{seed}`` in a path replaced by the
    cell's seed, so that each fine-tuning seed can load its own pretraining run
    (``work_dirs/ddep_seed{seed}/epoch_5.pth``); a path without it serves every seed."""
    return {name: path.replace('{seed}', str(cell.seed)) for name, path in checkpoints.items()}


def cell_options(cell: DownstreamCell, num_train: int, checkpoints: Dict[str, str]
                 ) -> List[str]:
    """The ``--cfg-options`` of a cell: its seed, its labelled subset (the first
    ``percent``% of the i.i.d. generated training scenes, ``train_dataloader.dataset.indices``)
    and its init (``INIT_OPTIONS``, with the checkpoints named by ``checkpoints``: 'mae',
    'ddep', 'dep'; ``{seed}`` in a path is the cell's seed, :func:`cell_checkpoints`)."""
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
            options.append(option.format(**cell_checkpoints(cell, checkpoints)))
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


def run_label(metrics: Dict[str, float], task: str) -> str:
    """The metrics of a run as a short caption (in percent)."""
    return ', '.join(f'{METRICS[k]} {metrics[k] * PERCENT_SCALE[k]:.1f}'
                     for k in TABLE_METRICS[task]
                     if k in metrics) or 'no metrics'


def finished(work_dir: str, cell: DownstreamCell) -> Optional[Dict[str, float]]:
    """The cell's metrics if its run has finished (logged every table metric), else None."""
    metrics = last_metrics(cell.folder(work_dir))
    return metrics if all(k in metrics for k in TABLE_METRICS[cell.task]) else None
