"""Accuracy of a classifier on corrupted copies of its validation set (ImageNet-C protocol)
(``tools/analysis_tools/robustness.py`` is its command line).

The model is a classification config (configs/benchmarks/classification/) with its trained
checkpoint. Each of the 15 common corruptions of the ``imagecorruptions`` package, at each
severity, is applied to every image of the test split after the ``test_pipeline``'s resize and
crop (an ``ImageCorruption`` step before ``PackInputs``); numpy is seeded per corruption and
severity, so a rerun draws the same noise. Writes OUT_DIR/robustness.json (top-1 per corruption
and severity, per corruption, the mean over corruptions and the clean accuracy) and
OUT_DIR/robustness.png (the table).
"""
import json
import os
import os.path as osp
import time
import zlib
from typing import Optional, Sequence

import numpy as np
import torch
from mmengine.config import Config
from matplotlib.figure import Figure
from mmengine.dataset import Compose
from torch.utils.data import DataLoader

from mimlab.apis import init_model
from mimlab.datasets import build_split_dataset, collate_present
from mimlab.engine.errors import ConfigError


@torch.no_grad()
def top1(model, dataset, batch_size: int) -> float:
    """Top-1 accuracy (%) of a classifier on a dataset."""
    correct = total = 0
    for batch in DataLoader(dataset, batch_size=batch_size, collate_fn=collate_present):
        for pred in model.test_step(batch):
            correct += int(pred['pred_label'] == pred['gt_label'])
            total += 1
    return 100.0 * correct / total


def corrupted_pipeline(pipeline, corruption: str, severity: int) -> list:
    """The pipeline with an ``ImageCorruption`` step before ``PackInputs``."""
    steps = [dict(step) for step in pipeline]
    pack = next((i for i, s in enumerate(steps) if s['type'] == 'PackInputs'), len(steps))
    steps.insert(pack, dict(type='ImageCorruption', corruption=corruption, severity=severity))
    return steps


def draw_table(result: dict, path: str) -> None:
    """The result's top-1 per corruption and severity as a table picture."""
    severities = result['severities']
    names = list(result['per_corruption'])
    cells = [[f'{result["top1"][n][str(s)]:.1f}' for s in severities] +
             [f'{result["per_corruption"][n]:.1f}'] for n in names]
    cells.append([''] * len(severities) + [f'{result["mean"]:.1f}'])
    rows = names + ['mean over corruptions']
    fig = Figure(figsize=(1.0 * len(severities) + 4.5, 0.3 * len(rows) + 1.2))
    ax = fig.subplots()
    ax.axis('off')
    table = ax.table(cellText=cells, rowLabels=rows, loc='center',
                     colLabels=[f'severity {s}' for s in severities] + ['mean'])
    table.scale(1, 1.2)
    ax.set_title(f'top-1 (%) under corruption; clean: {result["clean_top1"]:.1f}', fontsize=10)
    fig.savefig(path, dpi=120, bbox_inches='tight')


def run_robustness(cfg: Config, config: str, checkpoint: str, corruptions: Sequence[str],
                   out_dir: str, split: str = 'test', severities: Sequence[int] = (1, 2, 3, 4, 5),
                   max_images: Optional[int] = None, batch_size: int = 256,
                   seed: int = 0) -> dict:
    """Top-1 of the classifier ``cfg`` (read from the file ``config``) with ``checkpoint`` on
    ``split`` (its first ``max_images``), clean and under each corruption and severity; writes
    ``robustness.json`` and ``robustness.png`` into ``out_dir`` and returns the result."""
    if cfg.model.get('type') != 'ImageClassifier':
        raise ConfigError(f'{config}: robustness needs a classification config (model type '
                         f'ImageClassifier), got {cfg.model.get("type")!r}')
    model = init_model(cfg, checkpoint)

    start = time.time()
    clean_set = build_split_dataset(cfg, split, indices=max_images)
    clean = top1(model, clean_set, batch_size)
    table = {}
    for name in corruptions:
        table[name] = {}
        for severity in severities:
            np.random.seed((seed + zlib.crc32(f'{name}/{severity}'.encode())) % 2**32)
            # the loaded images, read through another pipeline
            clean_set.pipeline = Compose(corrupted_pipeline(cfg.test_pipeline, name, severity))
            table[name][str(severity)] = top1(model, clean_set, batch_size)
        print(f'{name}: ' + ', '.join(f'{v:.1f}' for v in table[name].values()), flush=True)
    per_corruption = {n: float(np.mean(list(v.values()))) for n, v in table.items()}
    result = dict(config=config, checkpoint=checkpoint, split=split,
                  num_images=len(clean_set),
                  severities=list(severities), clean_top1=clean, top1=table,
                  per_corruption=per_corruption,
                  mean=float(np.mean(list(per_corruption.values()))),
                  seconds=round(time.time() - start, 1))
    os.makedirs(out_dir, exist_ok=True)
    with open(osp.join(out_dir, 'robustness.json'), 'w') as f:
        json.dump(result, f, indent=1)
    draw_table(result, osp.join(out_dir, 'robustness.png'))
    print(f'clean top-1 {clean:.2f}, mean over {len(corruptions)} corruptions '
          f'{result["mean"]:.2f}; written to {out_dir}/robustness.{{json,png}}')
    return result
