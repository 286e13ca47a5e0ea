"""Frequency response of each encoder block (MFF paper, Fig. 5 style), models side by side.

    python tools/analysis_tools/frequency_response.py \
        --model MAE configs/mae/CONFIG.py work_dirs/mae/epoch_6.pth \
        --model MFF configs/mff/CONFIG.py work_dirs/mff/epoch_6.pth --out freq.png

For every block, the patch tokens of held-out images (no masking) are laid out as a feature map,
Fourier transformed, and their log amplitude is averaged over images and channels in radial
frequency bands. The picture shows, per model, the log amplitude relative to the zero frequency
(band 0) by block; the JSON next to the PNG holds the numbers.
"""
import argparse

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from mimlab.evaluation import layer_frequency_response  # noqa: E402
from mimlab.experiments.cli import (add_model_arguments, add_picture_out,  # noqa: E402
                                    heldout_models, json_beside, save_result)
from mimlab.visualization import save_figure  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    add_model_arguments(parser)
    parser.add_argument('--split', default='test', help='held-out split of the config dataset')
    parser.add_argument('--num-images', type=int, default=64)
    add_picture_out(parser)
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    results = {}
    for (label, _, _), model, images in heldout_models(args, args.num_images):
        response = layer_frequency_response(model.backbone, images)
        results[label] = dict(log_amplitude=response.tolist(),
                              relative=(response - response[:, :1]).tolist())
    # the numbers first: a picture that cannot be written must not lose them
    save_result(json_beside(args.out),
                dict(split=args.split, num_images=args.num_images, models=results))
    fig, axes = plt.subplots(1, len(results), figsize=(5 * len(results), 4), squeeze=False,
                             sharey=True)
    for ax, (label, res) in zip(axes[0], results.items()):
        rel = torch.tensor(res['relative'])
        cmap = plt.get_cmap('viridis')
        for band in range(1, rel.shape[1]):
            ax.plot(range(rel.shape[0]), rel[:, band], marker='o', ms=3,
                    color=cmap(band / max(1, rel.shape[1] - 1)), label=f'band {band}')
        ax.set_title(label)
        ax.set_xlabel('encoder block')
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel('log amplitude relative to band 0')
    axes[0][-1].legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, args.out)
    print(f'frequency response written to {args.out} (+ .json)')
    return results


if __name__ == '__main__':
    main()
