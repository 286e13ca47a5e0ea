"""Accuracy of a classifier on corrupted copies of its validation set (ImageNet-C protocol).

    python tools/analysis_tools/robustness.py CONFIG CKPT --out-dir DIR \
        [--corruptions gaussian_noise fog ...] [--severities 1 2 3 4 5] [--max-images N]

CONFIG is a classification config (configs/benchmarks/classification/), CKPT its trained
checkpoint. Each of the 15 common corruptions of the ``imagecorruptions`` package, at each
severity, is applied to every image of the test split after the ``test_pipeline``'s resize and
crop (:mod:`mimlab.experiments.robustness`). Writes DIR/robustness.json (top-1 per corruption and
severity, per corruption, the mean over corruptions and the clean accuracy) and DIR/robustness.png
(the table).
"""
import argparse
import os.path as osp

from mmengine.config import DictAction

from mimlab.apis import load_config
from mimlab.datasets.transforms import corruption_names
from mimlab.engine.checkpoint import allow_unsafe_load
from mimlab.engine.errors import one_line_errors
from mimlab.experiments.robustness import run_robustness


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
    with one_line_errors():  # a config that is no classifier's
        return run_robustness(load_config(args.config, args.cfg_options), args.config,
                              args.checkpoint, corruptions, args.out_dir, args.split,
                              args.severities, args.max_images, args.batch_size, args.seed)


if __name__ == '__main__':
    main()
