"""One table of many runs from the ``summary.json`` each work dir holds at the end of training.

    python tools/analysis_tools/collect_summaries.py work_dirs/demo work_dirs/mff_demo ...
    python tools/analysis_tools/collect_summaries.py 'work_dirs/*' --format csv --out runs.csv
    python tools/analysis_tools/collect_summaries.py work_dirs/demo ... --curves knn.png

``--curves PNG`` also draws one scalar of every run over the iterations (``--curve-key``,
default the online kNN accuracy ``online/knn_top1``), from their ``scalars.json``.

Columns: run, config, final loss, final online kNN top-1, images/s, wall time, peak memory,
iterations, device, torch, CUDA, commit, end time.
"""
import argparse
import os
import os.path as osp

from mimlab.experiments.summaries import (draw_curves, read_summaries, scalar_curves,
                                          summary_table)
from mimlab.visualization import save_picture


def main(argv=None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('work_dirs', nargs='+',
                        help='work dirs, patterns of them, or a folder of work dirs')
    parser.add_argument('--format', choices=['md', 'csv'], default='md')
    parser.add_argument('--out', help='write the table to this file (default: print it)')
    parser.add_argument('--curves', help='also draw --curve-key of every run to this PNG')
    parser.add_argument('--curve-key', default='online/knn_top1')
    args = parser.parse_args(argv)
    try:
        rows = read_summaries(args.work_dirs)
    except (OSError, ValueError) as err:
        raise SystemExit(str(err))
    table = summary_table(rows, args.format)
    if args.curves:
        curves = scalar_curves([row['work_dir'] for row in rows], args.curve_key)
        if not curves:
            raise SystemExit(f'no run logged {args.curve_key!r} in its scalars.json')
        save_picture(draw_curves(curves, args.curve_key), args.curves)
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as f:
            f.write(table)
    print(table, end='')
    return table


if __name__ == '__main__':
    main()
