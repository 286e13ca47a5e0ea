"""Top Hessian eigenvalue of the pretraining loss (MFF paper, Sec. 4), models side by side.

    python tools/analysis_tools/hessian_eigenvalue.py \
        --model MAE configs/mae/CONFIG.py work_dirs/mae/epoch_6.pth \
        --model MFF configs/mff/CONFIG.py work_dirs/mff/epoch_6.pth --out hessian.png

Power iteration on Hessian-vector products (double backward) over the parameters both models
share, the encoder's blocks (``--params``), on ``--num-batches`` held-out batches for each of
``--seeds`` (masks and start vector): a distribution per model, as the paper reports it
(``mimlab.evaluation.hessian_eigenvalue_distribution``). Writes a PNG of the distributions and a
JSON with every value.
"""
import argparse

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402

from mimlab.evaluation import hessian_eigenvalue_distribution  # noqa: E402
from mimlab.evaluation.analysis import SHARED_ENCODER_BLOCKS  # noqa: E402
from mimlab.experiments.cli import (add_model_arguments, add_picture_out,  # noqa: E402
                                    heldout_models, json_beside, save_result)
from mimlab.visualization import save_figure  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    add_model_arguments(parser)
    parser.add_argument('--split', default='test')
    parser.add_argument('--batch-size', type=int, default=64)
    parser.add_argument('--num-batches', type=int, default=10)
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1])
    parser.add_argument('--params', default=SHARED_ENCODER_BLOCKS,
                        help='name prefix of the parameters (default: the encoder blocks)')
    parser.add_argument('--iters', type=int, default=20)
    add_picture_out(parser)
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    results = {}
    num_images = args.batch_size * args.num_batches
    for (label, _, _), model, images in heldout_models(args, num_images):
        batches = images.split(args.batch_size)
        res = hessian_eigenvalue_distribution(model, batches, args.seeds, args.params,
                                              iters=args.iters)
        results[label] = res
        print(f'{label}: top Hessian eigenvalue {res["mean"]:.4g} +- {res["std"]:.3g} '
              f'(min {res["min"]:.4g}, max {res["max"]:.4g}; {len(res["values"])} runs = '
              f'{len(args.seeds)} seeds x {len(batches)} batches of {args.batch_size}; '
              f'{res["num_params"]} parameters under {args.params!r})')
    # the numbers first: a picture that cannot be written must not lose them
    save_result(json_beside(args.out), dict(split=args.split, batch_size=args.batch_size,
                                            seeds=args.seeds, num_batches=args.num_batches,
                                            models=results))
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.boxplot([r['values'] for r in results.values()], tick_labels=list(results))
    ax.set_ylabel('top Hessian eigenvalue')
    ax.set_title(f'{args.params} ({len(args.seeds)} seeds x {args.num_batches} batches)')
    ax.grid(alpha=0.3)
    fig.tight_layout()
    save_figure(fig, args.out)
    return results


if __name__ == '__main__':
    main()
