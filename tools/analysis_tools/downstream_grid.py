"""Fine-tune a pretrained encoder and the same network from random init over a grid of seeds and
label fractions (UperNet and/or Mask R-CNN), then print the mean +- std table.

    python tools/analysis_tools/downstream_grid.py --work-dir work_dirs/garments \
        --checkpoint work_dirs/demo/epoch_6.pth --tasks seg det --percents 10 100 \
        --inits mae random --seeds 0 1 2 --jobs 2

Each cell is ``tools/train.py CONFIG --work-dir WORK_DIR/<task>_<P>pct_<init>_seed<S>`` with
``--cfg-options randomness.seed=S``, the labelled subset (``train_dataloader.dataset.indices``:
the first P% of the i.i.d. generated training scenes; the number of iterations stays the same)
and the encoder init (``model.backbone.init_cfg.checkpoint=CKPT`` or ``init_cfg=None``), plus
``--cfg-options`` common to all. A finished cell (its metrics logged) is skipped, so rerunning
the command resumes a grid and ``--table-only`` prints what is there. The table goes to stdout,
WORK_DIR/table.md and WORK_DIR/results.json. Cells run in the order given (tasks, then
percents, then seeds, then inits), ``--jobs`` at a time, each with one thread (a cell that
another grid process runs now is skipped: its ``grid.pid`` names a live process); each cell's
CPU seconds (user + system of its process) and wall seconds go to its ``usage.json``.
"""
import argparse
import itertools
import json
import os
import os.path as osp
import subprocess
import sys
import time

from mmengine.config import Config

from mimlab.apis.downstream import (DownstreamCell, cell_dir, cell_options,
                                    count_training_images, finished, format_table,
                                    summarize_grid)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = dict(
    seg=osp.join(REPO, 'configs/benchmarks/mmseg/upernet_mae-vit-tiny-p4_1xb8-600it_garments-64x64.py'),
    det=osp.join(REPO, 'configs/benchmarks/mmdet/mask-rcnn_mae-vit-tiny-p4_1xb4-1000it_garments-64x64.py'))


def main(argv=None) -> list:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--work-dir', required=True)
    parser.add_argument('--checkpoint', default='work_dirs/demo/epoch_6.pth',
                        help='the pretraining checkpoint of the "mae" init')
    parser.add_argument('--tasks', nargs='+', choices=['seg', 'det'], default=['seg', 'det'])
    parser.add_argument('--percents', nargs='+', type=float, default=[10, 100])
    parser.add_argument('--inits', nargs='+', choices=['mae', 'random'],
                        default=['mae', 'random'])
    parser.add_argument('--seeds', nargs='+', type=int, default=[0, 1, 2])
    parser.add_argument('--seg-config', default=CONFIGS['seg'])
    parser.add_argument('--det-config', default=CONFIGS['det'])
    parser.add_argument('--cfg-options', nargs='+', default=[],
                        help='KEY=VALUE overrides for every cell (e.g. a shorter schedule)')
    parser.add_argument('--jobs', type=int, default=1, help='cells run side by side')
    parser.add_argument('--table-only', action='store_true', help='train nothing')
    args = parser.parse_args(argv)
    configs = dict(seg=args.seg_config, det=args.det_config)
    cells = [DownstreamCell(task, percent, init, seed) for task, percent, seed, init in
             itertools.product(args.tasks, args.percents, args.seeds, args.inits)]
    if 'mae' in args.inits and not args.table_only and not osp.isfile(args.checkpoint):
        parser.error(f'--checkpoint {args.checkpoint} is missing (run `make demo`)')
    todo = [c for c in cells if finished(args.work_dir, c) is None]
    if not args.table_only and todo:
        num_train = {task: count_training_images(task, Config.fromfile(configs[task]).data_root)
                     for task in {c.task for c in todo}}
        env = dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1')
        running = []  # (cell, process, log file, start time, work dir)
        for cell in todo:
            if _running_elsewhere(args.work_dir, cell):
                print(f'[grid] skip {cell.name}: another process runs it', flush=True)
                continue
            while len(running) >= args.jobs:
                running = [run for run in running if not _reaped(*run)]
                time.sleep(2)
            command = [sys.executable, osp.join(REPO, 'tools/train.py'), configs[cell.task],
                       '--work-dir', cell_dir(args.work_dir, cell), '--cfg-options',
                       *cell_options(cell, num_train[cell.task], args.checkpoint),
                       *args.cfg_options]
            print(f'[grid] start {cell.name}', flush=True)
            os.makedirs(cell_dir(args.work_dir, cell), exist_ok=True)
            log = open(osp.join(cell_dir(args.work_dir, cell), 'grid.log'), 'w')
            process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
            with open(osp.join(cell_dir(args.work_dir, cell), 'grid.pid'), 'w') as f:
                f.write(str(process.pid))
            running.append((cell, process, log, time.time(), args.work_dir))
        while running:
            running = [run for run in running if not _reaped(*run)]
            time.sleep(2)
    results = {c: finished(args.work_dir, c) for c in cells}
    rows = summarize_grid(results)
    table = format_table(rows)
    print(table)
    os.makedirs(args.work_dir, exist_ok=True)
    with open(osp.join(args.work_dir, 'table.md'), 'w') as f:
        f.write(table + '\n')
    with open(osp.join(args.work_dir, 'results.json'), 'w') as f:
        json.dump([dict(cell=c.name, task=c.task, percent=c.percent, init=c.init, seed=c.seed,
                        metrics=r, usage=_usage(args.work_dir, c)) for c, r in results.items()],
                  f, indent=1)
    return rows


def _running_elsewhere(work_dir: str, cell: DownstreamCell) -> bool:
    """Whether a live process (another grid on the same work dir) runs the cell now."""
    path = osp.join(cell_dir(work_dir, cell), 'grid.pid')
    if not osp.isfile(path):
        return False
    with open(path) as f:
        pid = int(f.read())
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _usage(work_dir: str, cell: DownstreamCell):
    path = osp.join(cell_dir(work_dir, cell), 'usage.json')
    if not osp.isfile(path):
        return None
    with open(path) as f:
        return json.load(f)


def _reaped(cell: DownstreamCell, process: subprocess.Popen, log, start: float,
            work_dir: str) -> bool:
    """Whether the cell's process has ended; then close its log, write its usage and say how
    it ended."""
    pid, status, usage = os.wait4(process.pid, os.WNOHANG)
    if pid == 0:
        return False
    code = os.waitstatus_to_exitcode(status)
    process.returncode = code
    log.close()
    os.remove(osp.join(cell_dir(work_dir, cell), 'grid.pid'))
    with open(osp.join(cell_dir(work_dir, cell), 'usage.json'), 'w') as f:
        json.dump(dict(cpu_s=round(usage.ru_utime + usage.ru_stime, 1),
                       wall_s=round(time.time() - start, 1), exit_code=code), f)
    print(f'[grid] {"done" if code == 0 else f"FAILED ({code}), see grid.log:"} {cell.name}',
          flush=True)
    return True


if __name__ == '__main__':
    main()
