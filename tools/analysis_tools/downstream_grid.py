"""Fine-tune a pretrained encoder and the same network from random init over a grid of seeds and
label fractions (UperNet and/or Mask R-CNN, or DDeP's U-Net), then print the mean +- std table.

    python tools/analysis_tools/downstream_grid.py --work-dir work_dirs/garments \
        --checkpoint work_dirs/demo/epoch_6.pth --tasks seg det --percents 10 100 \
        --inits mae random --seeds 0 1 2 --jobs 2
    python tools/analysis_tools/downstream_grid.py --work-dir work_dirs/garments_ddep \
        --tasks ddep --inits ddep dep random --percents 10 --seeds 0 1 2 --jobs 2 \
        --ddep-checkpoint work_dirs/ddep_garments/epoch_5.pth \
        --dep-checkpoint work_dirs/dep_garments/epoch_5.pth

Each cell is ``tools/train.py CONFIG --work-dir WORK_DIR/<task>_<P>pct_<init>_seed<S>`` with
``--cfg-options randomness.seed=S``, the labelled subset (``train_dataloader.dataset.indices``:
the first P% of the i.i.d. generated training scenes; the number of iterations stays the same)
and the init (seg, det: the encoder from ``--checkpoint`` or ``init_cfg=None``; ddep: the
frozen MAE encoder with the decoder of ``--ddep-checkpoint`` or a random decoder, or encoder
and decoder of ``--dep-checkpoint``), plus ``--cfg-options`` common to all; a task/init pair
that does not exist (seg with ddep) is left out. A finished cell (its metrics logged) is skipped, so rerunning
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

from mimlab.apis.downstream import (INIT_OPTIONS, DownstreamCell, cell_dir, cell_options,
                                    count_training_images, finished, format_table,
                                    summarize_grid)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = dict(
    seg=osp.join(REPO, 'configs/benchmarks/mmseg/upernet_mae-vit-tiny-p4_1xb8-600it_garments-64x64.py'),
    det=osp.join(REPO, 'configs/benchmarks/mmdet/mask-rcnn_mae-vit-tiny-p4_1xb4-1000it_garments-64x64.py'),
    ddep=osp.join(REPO, 'configs/benchmarks/mmseg/unet-ddep_vit-tiny-p4_1xb8-adam-coslr-600i_garments-64x64.py'))


def main(argv=None) -> list:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--work-dir', required=True)
    parser.add_argument('--checkpoint', default='work_dirs/demo/epoch_6.pth',
                        help='the pretraining checkpoint of the "mae" init (and the encoder '
                        'of the ddep task\'s "ddep" and "random" inits)')
    parser.add_argument('--ddep-checkpoint', default='work_dirs/ddep_garments/epoch_5.pth',
                        help='the DDeP run whose decoder the "ddep" init of the ddep task loads')
    parser.add_argument('--dep-checkpoint', default='work_dirs/dep_garments/epoch_5.pth',
                        help='the DeP run whose encoder and decoder the "dep" init loads')
    parser.add_argument('--tasks', nargs='+', choices=sorted(INIT_OPTIONS),
                        default=['seg', 'det'])
    parser.add_argument('--percents', nargs='+', type=float, default=[10, 100])
    parser.add_argument('--inits', nargs='+', choices=['mae', 'ddep', 'dep', 'random'],
                        default=['mae', 'random'])
    parser.add_argument('--seeds', nargs='+', type=int, default=[0, 1, 2])
    parser.add_argument('--seg-config', default=CONFIGS['seg'])
    parser.add_argument('--det-config', default=CONFIGS['det'])
    parser.add_argument('--ddep-config', default=CONFIGS['ddep'])
    parser.add_argument('--cfg-options', nargs='+', default=[],
                        help='KEY=VALUE overrides for every cell (e.g. a shorter schedule)')
    parser.add_argument('--jobs', type=int, default=1, help='cells run side by side')
    parser.add_argument('--table-only', action='store_true', help='train nothing')
    args = parser.parse_args(argv)
    configs = dict(seg=args.seg_config, det=args.det_config, ddep=args.ddep_config)
    checkpoints = dict(mae=args.checkpoint, ddep=args.ddep_checkpoint, dep=args.dep_checkpoint)
    cells = [DownstreamCell(task, percent, init, seed) for task, percent, seed, init in
             itertools.product(args.tasks, args.percents, args.seeds, args.inits)
             if init in INIT_OPTIONS[task]]
    if not cells:
        parser.error(f'no cell: none of --inits {args.inits} applies to --tasks {args.tasks}')
    todo = [c for c in cells if finished(args.work_dir, c) is None]
    needed = {name for c in todo for option in INIT_OPTIONS[c.task][c.init]
              for name in checkpoints if '{' + name + '}' in option}
    for name in sorted(needed) if not args.table_only else ():
        if not osp.isfile(checkpoints[name]):
            flag = '--checkpoint' if name == 'mae' else f'--{name}-checkpoint'
            parser.error(f'{flag} {checkpoints[name]} is missing (' + dict(
                mae='run `make demo`', ddep='train the DDeP config first',
                dep='train the DeP config first')[name] + ')')
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
                       *cell_options(cell, num_train[cell.task], checkpoints),
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
