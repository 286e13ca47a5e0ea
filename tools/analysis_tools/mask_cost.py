"""How MAE's cost grows: train-step time and FLOPs against mask ratio and image size.

    python tools/analysis_tools/mask_cost.py [CONFIG] [--mask-ratios 0.5 0.6 0.7 0.8 0.9]
        [--img-sizes 224 448] [--batch-size 2] [--iters 2] [--warmup 1] [--threads N]
        [--out-dir DIR]

For each image size and mask ratio the model of CONFIG (default: MAE ViT-B/16) is built and its
step timed, its FLOPs counted and split into the encoder and the rest
(:mod:`mimlab.experiments.mask_cost`). Writes ``mask_cost.json``, ``mask_cost.md`` (a table) and
``mask_cost.png``.
"""
import argparse
import os.path as osp

import torch

from mimlab.experiments.mask_cost import run_mask_cost

DEFAULT_CONFIG = 'configs/mae/mae_vit-base-p16_8xb512-coslr-800e_in1k.py'


def main(argv=None) -> list:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', nargs='?', default=DEFAULT_CONFIG)
    parser.add_argument('--mask-ratios', type=float, nargs='+',
                        default=[0.5, 0.6, 0.7, 0.8, 0.9])
    parser.add_argument('--img-sizes', type=int, nargs='+', default=[224, 448])
    parser.add_argument('--batch-size', type=int, default=2)
    parser.add_argument('--iters', type=int, default=2)
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--threads', type=int)
    parser.add_argument('--out-dir', default='work_dirs/mask_cost')
    args = parser.parse_args(argv)
    if not osp.isfile(args.config):
        raise SystemExit(f'config file {args.config} does not exist')
    if args.threads:
        torch.set_num_threads(args.threads)
    return run_mask_cost(args.config, args.mask_ratios, args.img_sizes, args.batch_size,
                         args.iters, args.warmup, args.out_dir)


if __name__ == '__main__':
    main()
