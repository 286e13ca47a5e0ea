"""Largest Hessian eigenvalue of the pretraining loss (MFF paper, Sec. 4), models side by side.

    python tools/analysis_tools/hessian_eigenvalue.py \
        --model MAE configs/mae/CONFIG.py work_dirs/mae/epoch_6.pth \
        --model MFF configs/mff/CONFIG.py work_dirs/mff/epoch_6.pth --out hessian.png

On one fixed batch of held-out images with fixed masks, power iteration on Hessian-vector
products (double backward) over all trainable parameters. Writes a PNG of the estimates per
iteration and a JSON with the eigenvalues.
"""
import argparse
import json
import os.path as osp

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from mmengine.config import DictAction  # noqa: E402

from mimlab.apis import heldout_batch, init_model, load_config  # noqa: E402
from mimlab.evaluation import math_attention, top_hessian_eigenvalue  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--model', nargs=3, action='append', required=True,
                        metavar=('LABEL', 'CONFIG', 'CHECKPOINT'))
    parser.add_argument('--split', default='test')
    parser.add_argument('--batch-size', type=int, default=64)
    parser.add_argument('--iters', type=int, default=20)
    parser.add_argument('--seed', type=int, default=0, help='seed of the masks and start vector')
    parser.add_argument('--out', required=True, help='PNG to write (and a .json beside it)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override keys of every config')
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    results = {}
    for label, config, checkpoint in args.model:
        model = init_model(load_config(config, args.cfg_options), checkpoint)
        images = heldout_batch(model, model.cfg, args.split, args.batch_size)

        def loss_fn():
            torch.manual_seed(args.seed)  # the same masks at every evaluation
            losses = model.loss(images)
            return sum(v for k, v in losses.items() if 'loss' in k)

        with math_attention(model):
            results[label] = top_hessian_eigenvalue(loss_fn, list(model.parameters()),
                                                    iters=args.iters, seed=args.seed)
        print(f'{label}: top Hessian eigenvalue {results[label]["eigenvalue"]:.4f} '
              f'({len(results[label]["trace"])} iterations)')
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for label, res in results.items():
        ax.plot(range(1, len(res['trace']) + 1), res['trace'], marker='o', ms=3,
                label=f'{label}: {res["eigenvalue"]:.3g}')
    ax.set_xlabel('power iteration')
    ax.set_ylabel('eigenvalue estimate')
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(args.out, dpi=120)
    plt.close(fig)
    with open(osp.splitext(args.out)[0] + '.json', 'w') as f:
        json.dump(dict(split=args.split, batch_size=args.batch_size, seed=args.seed,
                       models=results), f, indent=1)
    return results


if __name__ == '__main__':
    main()
