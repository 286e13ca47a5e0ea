"""Plot MFF fusion weights over training from one or more work dirs.

    python tools/analysis_tools/plot_fusion_weights.py work_dirs/mff_demo [--label MFF] --out w.png

Reads the ``fusion_w_b{block}`` scalars that the fusion neck logs (every
``*/vis_data/scalars.json`` of each work dir) and draws one line per fused block.
"""
import argparse
import json
import os.path as osp
import re

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402

from mimlab.engine.workdir import read_scalars, scalar_files  # noqa: E402
from mimlab.visualization import save_figure  # noqa: E402


def read_fusion_weights(work_dir: str) -> dict:
    """{block: ([steps], [weights])} from every run (timestamp folder) of a work dir, oldest
    first, so a resumed run continues the curve; a step logged twice keeps the later value."""
    if not scalar_files(work_dir):
        raise SystemExit(f'no */vis_data/scalars.json under {work_dir}: is it a work dir of a '
                         'training run?')
    by_block = {}
    for record in read_scalars(work_dir):
        for key, value in record.items():
            match = re.fullmatch(r'fusion_w_b(\d+)', key)
            if match:
                by_block.setdefault(int(match.group(1)), {})[record['step']] = value
    if not by_block:
        raise SystemExit(f'{work_dir} logged no fusion_w_b* scalars: was it trained with a '
                         'weighted fusion neck?')
    return {block: (sorted(points), [points[s] for s in sorted(points)])
            for block, points in sorted(by_block.items())}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('work_dirs', nargs='+')
    parser.add_argument('--label', action='append', help='one per work dir')
    parser.add_argument('--out', required=True)
    args = parser.parse_args(argv)
    labels = args.label or [osp.basename(osp.normpath(w)) for w in args.work_dirs]
    if len(labels) != len(args.work_dirs):
        parser.error('give one --label per work dir')
    fig, axes = plt.subplots(1, len(args.work_dirs), figsize=(5 * len(args.work_dirs), 3.5),
                             squeeze=False, sharey=True)
    final = {}
    for ax, work_dir, label in zip(axes[0], args.work_dirs, labels):
        series = read_fusion_weights(work_dir)
        for block, (steps, values) in series.items():
            ax.plot(steps, values, label=f'block {block}')
        final[label] = {f'block {b}': v[-1] for b, (_, v) in series.items()}
        ax.set_title(label)
        ax.set_xlabel('iteration')
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    axes[0][0].set_ylabel('fusion weight')
    fig.tight_layout()
    save_figure(fig, args.out)
    print(json.dumps(dict(final_weights=final), indent=1))
    return final


if __name__ == '__main__':
    main()
