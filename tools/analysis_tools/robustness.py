"""Accuracy of a classifier on corrupted copies of its validation set (ImageNet-C protocol).

    python tools/analysis_tools/robustness.py CONFIG CKPT --out-dir DIR \
        [--corruptions gaussian_noise fog ...] [--severities 1 2 3 4 5] [--max-images N]

CONFIG is a classification config (configs/benchmarks/classification/), CKPT its trained
checkpoint. Each of the 15 common corruptions of the ``imagecorruptions`` package, at each
severity, is applied to every image of the test split after the ``test_pipeline``'s resize and
crop (an ``ImageCorruption`` step before ``PackInputs``); numpy is seeded per corruption and
severity, so a rerun draws the same noise. Writes DIR/robustness.json (top-1 per corruption and
severity, per corruption, the mean over corruptions and the clean accuracy) and DIR/robustness.png
(the table).
"""
import argparse
import json
import os
import os.path as osp
import time
import zlib

import matplotlib
import numpy as np
import torch
from mmengine.config import DictAction
from mmengine.dataset import Compose
from torch.utils.data import DataLoader

from mimlab.apis import init_model, load_config
from mimlab.datasets import build_split_dataset, collate_present
from mimlab.datasets.transforms import corruption_names
from mimlab.engine.checkpoint import allow_unsafe_load

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402


@torch.no_grad()
def top1(model, dataset, batch_size: int) -> float:
    correct = total = 0
    for batch in DataLoader(dataset, batch_size=batch_size, collate_fn=collate_present):
        for pred in model.test_step(batch):
            correct += int(pred['pred_label'] == pred['gt_label'])
            total += 1
    return 100.0 * correct / total


def corrupted_pipeline(pipeline, corruption: str, severity: int) -> list:
    steps = [dict(step) for step in pipeline]
    pack = next((i for i, s in enumerate(steps) if s['type'] == 'PackInputs'), len(steps))
    steps.insert(pack, dict(type='ImageCorruption', corruption=corruption, severity=severity))
    return steps


def draw_table(result: dict, path: str) -> None:
    severities = result['severities']
    names = list(result['per_corruption'])
    cells = [[f'{result["top1"][n][str(s)]:.1f}' for s in severities] +
             [f'{result["per_corruption"][n]:.1f}'] for n in names]
    cells.append([''] * len(severities) + [f'{result["mean"]:.1f}'])
    rows = names + ['mean over corruptions']
    fig, ax = plt.subplots(figsize=(1.0 * len(severities) + 4.5, 0.3 * len(rows) + 1.2))
    ax.axis('off')
    table = ax.table(cellText=cells, rowLabels=rows, loc='center',
                     colLabels=[f'severity {s}' for s in severities] + ['mean'])
    table.scale(1, 1.2)
    ax.set_title(f'top-1 (%) under corruption; clean: {result["clean_top1"]:.1f}', fontsize=10)
    fig.savefig(path, dpi=120, bbox_inches='tight')
    plt.close(fig)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--out-dir', required=True)
    parser.add_argument('--split', default='test')
    parser.add_argument('--corruptions', nargs='+', help='default: all 15')
    parser.add_argument('--severities', nargs='+', type=int, default=[1, 2, 3, 4, 5])
    parser.add_argument('--max-images', type=int, help='only the first N images (quick checks)')
    parser.add_argument('--batch-size', type=int, default=256)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--unsafe-load', action='store_true',
                        help='load the checkpoint with torch.load(weights_only=False); only for '
                        'checkpoints from a source you trust')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    args = parser.parse_args(argv)

    names = corruption_names()
    corruptions = args.corruptions or list(names)
    unknown = [c for c in corruptions if c not in names]
    if unknown or any(s not in range(1, 6) for s in args.severities):
        parser.error(f'--corruptions must be among {", ".join(names)} (got {unknown}) and '
                     f'--severities in 1..5 (got {args.severities})')
    if not osp.isfile(args.checkpoint):
        raise SystemExit(f'checkpoint {args.checkpoint} does not exist')
    allow_unsafe_load(args.unsafe_load)
    cfg = load_config(args.config, args.cfg_options)
    if cfg.model.get('type') != 'ImageClassifier':
        raise SystemExit(f'{args.config}: robustness needs a classification config (model type '
                         f'ImageClassifier), got {cfg.model.get("type")!r}')
    model = init_model(cfg, args.checkpoint)

    start = time.time()
    clean_set = build_split_dataset(cfg, args.split, indices=args.max_images)
    clean = top1(model, clean_set, args.batch_size)
    table = {}
    for name in corruptions:
        table[name] = {}
        for severity in args.severities:
            np.random.seed((args.seed + zlib.crc32(f'{name}/{severity}'.encode())) % 2**32)
            # the loaded images, read through another pipeline
            clean_set.pipeline = Compose(corrupted_pipeline(cfg.test_pipeline, name, severity))
            table[name][str(severity)] = top1(model, clean_set, args.batch_size)
        print(f'{name}: ' + ', '.join(f'{v:.1f}' for v in table[name].values()), flush=True)
    per_corruption = {n: float(np.mean(list(v.values()))) for n, v in table.items()}
    result = dict(config=args.config, checkpoint=args.checkpoint, split=args.split,
                  num_images=len(clean_set),
                  severities=args.severities, clean_top1=clean, top1=table,
                  per_corruption=per_corruption,
                  mean=float(np.mean(list(per_corruption.values()))),
                  seconds=round(time.time() - start, 1))
    os.makedirs(args.out_dir, exist_ok=True)
    with open(osp.join(args.out_dir, 'robustness.json'), 'w') as f:
        json.dump(result, f, indent=1)
    draw_table(result, osp.join(args.out_dir, 'robustness.png'))
    print(f'clean top-1 {clean:.2f}, mean over {len(corruptions)} corruptions '
          f'{result["mean"]:.2f}; written to {args.out_dir}/robustness.{{json,png}}')
    return result


if __name__ == '__main__':
    main()
