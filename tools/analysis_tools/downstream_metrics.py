"""Print the last validation metrics of mmseg / mmdet runs: mIoU, box and mask AP.

    python tools/analysis_tools/downstream_metrics.py WORK_DIR [WORK_DIR ...]

Reads each run's ``<timestamp>/vis_data/scalars.json`` (written by mmengine's LocalVisBackend);
the newest run in a work dir counts.
"""
import argparse
import glob
import json
import os.path as osp

METRICS = {'mIoU': 'mIoU', 'aAcc': 'pixel acc', 'coco/bbox_mAP': 'box AP',
           'coco/bbox_mAP_50': 'box AP50', 'coco/segm_mAP': 'mask AP',
           'coco/segm_mAP_50': 'mask AP50'}


def last_metrics(work_dir: str) -> dict:
    runs = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')))
    if not runs:
        raise SystemExit(f'{work_dir}: no */vis_data/scalars.json (has the run finished?)')
    found = {}
    with open(runs[-1]) as f:
        for line in f:
            record = json.loads(line)
            found.update({k: record[k] for k in METRICS if k in record})
    return found


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('work_dirs', nargs='+')
    args = parser.parse_args(argv)
    for work_dir in args.work_dirs:
        metrics = last_metrics(work_dir)
        shown = ', '.join(f'{METRICS[k]} {v:.4g}' for k, v in metrics.items())
        print(f'{work_dir}: {shown or "no validation metrics"}')


if __name__ == '__main__':
    main()
