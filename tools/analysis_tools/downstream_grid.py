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
and decoder of ``--dep-checkpoint``; ``{seed}`` in a checkpoint path is the cell's seed, so each
seed can load its own pretraining run: ``--ddep-checkpoint work_dirs/ddep_seed{seed}/epoch_5.pth``),
plus ``--cfg-options`` common to all; a task/init pair
that does not exist (seg with ddep) is left out. A finished cell (its metrics logged) is
skipped, so rerunning the command resumes a grid and ``--table-only`` prints what is there. The
table goes to stdout, WORK_DIR/table.md and WORK_DIR/results.json. Cells run in the order given (tasks, then
percents, then seeds, then inits), ``--jobs`` at a time, each with one thread (a cell that
another grid process runs now is skipped: its ``grid.pid`` names a live process); each cell's
CPU seconds (user + system of its process) and wall seconds go to its ``usage.json``.

The grid is :mod:`mimlab.experiments.downstream` (on the grid core of
:mod:`mimlab.experiments.runs`); this file parses the command line.
"""
import argparse
import os.path as osp

from mimlab.engine.errors import ConfigError
from mimlab.experiments.downstream import INIT_OPTIONS, DownstreamGrid
from mimlab.experiments.runs import run_grid

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
                        help='the DDeP run whose decoder the "ddep" init of the ddep task loads '
                        '({seed} in the path: the cell\'s seed)')
    parser.add_argument('--dep-checkpoint', default='work_dirs/dep_garments/epoch_5.pth',
                        help='the DeP run whose encoder and decoder the "dep" init loads '
                        '({seed} in the path: the cell\'s seed)')
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
    grid = DownstreamGrid(
        work_dir=args.work_dir, train_script=osp.join(REPO, 'tools/train.py'),
        configs=dict(seg=args.seg_config, det=args.det_config, ddep=args.ddep_config),
        checkpoints=dict(mae=args.checkpoint, ddep=args.ddep_checkpoint,
                         dep=args.dep_checkpoint),
        tasks=args.tasks, percents=args.percents, inits=args.inits, seeds=args.seeds,
        cfg_options=args.cfg_options)
    try:
        return run_grid(grid, jobs=args.jobs, train=not args.table_only)
    except ConfigError as err:  # a missing checkpoint, or no cell
        parser.error(str(err))


if __name__ == '__main__':
    main()
