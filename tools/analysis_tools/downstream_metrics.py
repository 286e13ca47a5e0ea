"""Print the last validation metrics of mmseg / mmdet runs: mIoU, box and mask AP.

    python tools/analysis_tools/downstream_metrics.py WORK_DIR [WORK_DIR ...]

Reads each run's ``<timestamp>/vis_data/scalars.json`` (written by mmengine's LocalVisBackend);
the newest run in a work dir counts (:func:`mimlab.experiments.downstream.last_metrics`).
"""
import argparse

from mimlab.experiments.downstream import METRICS, last_metrics


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('work_dirs', nargs='+')
    args = parser.parse_args(argv)
    for work_dir in args.work_dirs:
        metrics = last_metrics(work_dir)
        if not metrics:
            raise SystemExit(f'{work_dir}: no validation metrics in */vis_data/scalars.json '
                             f'(has the run finished?)')
        shown = ', '.join(f'{METRICS[k]} {v:.4g}' for k, v in metrics.items())
        print(f'{work_dir}: {shown}')


if __name__ == '__main__':
    main()
