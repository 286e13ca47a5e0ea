"""One table of many runs from the ``summary.json`` each work dir holds at the end of training.

    python tools/analysis_tools/collect_summaries.py work_dirs/demo work_dirs/mff_demo ...
    python tools/analysis_tools/collect_summaries.py 'work_dirs/*' --format csv --out runs.csv

Columns: run, config, final loss, final online kNN top-1, images/s, wall time, peak memory,
iterations, device, torch, CUDA, commit, end time.
"""
import argparse
import os
import os.path as osp

from mimlab.experiments.summaries import read_summaries, summary_table


def main(argv=None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('work_dirs', nargs='+',
                        help='work dirs, patterns of them, or a folder of work dirs')
    parser.add_argument('--format', choices=['md', 'csv'], default='md')
    parser.add_argument('--out', help='write the table to this file (default: print it)')
    args = parser.parse_args(argv)
    try:
        table = summary_table(read_summaries(args.work_dirs), args.format)
    except (OSError, ValueError) as err:
        raise SystemExit(str(err))
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as f:
            f.write(table)
    print(table, end='')
    return table


if __name__ == '__main__':
    main()
