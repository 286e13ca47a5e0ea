"""Rerun a paper's ablation figure: pretrain every cell of a grid of config overrides with the
same budget and seed, evaluate each, and write a table and a line plot.

    python tools/sweep.py CONFIG --grid KEY=V1,V2,... [--grid KEY2=...] \
        --eval linear_probe [knn finetune miou] --work-dir DIR \
        [--cfg-options KEY=VALUE ...] [--name NAME] [--pool cls [avg]] \
        [--eval-config CFG --eval-cfg-options KEY=VALUE ...]

Values are Python literals (``0.75``, ``True``, ``None``, ``[0,2,4]``) or plain strings; commas
inside brackets do not split. The cells are the product of the grids, each pretrained as
tools/train.py trains, on CONFIG + ``--cfg-options`` (the common budget) + its own overrides,
with ``randomness.seed = --seed``. Layout of DIR:

    cells/<name>-<hash>/config.py        the cell's full config (rerun it with tools/train.py)
    cells/<name>-<hash>/pretrain/        the pretraining work dir (checkpoints, logs)
    cells/<name>-<hash>/pretrain.json    written when pretraining has finished
    cells/<name>-<hash>/eval-*.json      one per evaluation and its settings
    NAME.csv, NAME.json, NAME.png        the table and the figure (metric against the first
                                         grid key, one line per metric)

A cell is named by a hash of its full config, so a cell that is finished is skipped (two sweeps
that share DIR share their identical cells), and a cell that was killed resumes from its last
checkpoint (as ``train.py --resume``). Evaluations:

- ``linear_probe``, ``knn``: frozen encoder features (``--pool``) of the config's train and test
  splits (first ``--probe-train-images`` / ``--probe-test-images``), then
  :func:`mimlab.evaluation.train_linear_probe` / :func:`mimlab.evaluation.knn_accuracy`.
- ``finetune``, ``miou``: tools/train.py on ``--eval-config`` with the cell's checkpoint as
  ``model.backbone.init_cfg`` (``Pretrained``, prefix ``backbone.``); the metric
  (``--eval-metric``, default ``top1`` / ``mIoU``) is its last value in the run's scalars.

Under a launcher (``torchrun --nproc_per_node 8 tools/sweep.py ...``, ``srun --ntasks 16 python
tools/sweep.py ...``) each process runs its share of the cells (``RANK`` / ``WORLD_SIZE`` or
``SLURM_PROCID`` / ``SLURM_NTASKS``), one single-process run per cell on its ``LOCAL_RANK`` GPU;
every process writes the table of the cells finished so far, so the last one to finish writes it
whole (rerunning the command rewrites it without training anything).

The sweep itself is :mod:`mimlab.experiments.sweep`; this file parses the command line.
"""
import argparse
from typing import List

from mmengine.config import DictAction

from mimlab.engine.errors import one_line_errors
from mimlab.experiments.sweep import EVALS, EvalSettings, Sweep, parse_grid, run_sweep


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='the pretraining config')
    parser.add_argument('--grid', action='append', required=True, metavar='KEY=V1,V2,...',
                        help='a config key and its values (repeat for a product of grids)')
    parser.add_argument('--eval', nargs='+', choices=EVALS, required=True)
    parser.add_argument('--work-dir', required=True)
    parser.add_argument('--name', default='sweep', help='file name of the table and figure')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='overrides common to every cell (the budget)')
    parser.add_argument('--seed', type=int, default=0,
                        help='randomness.seed of every pretraining and evaluation')
    parser.add_argument('--pool', nargs='+', choices=['cls', 'avg'], default=['cls'],
                        help='features for linear_probe and knn: cls token, patch average')
    parser.add_argument('--probe-train-split', default='train')
    parser.add_argument('--probe-test-split', default='test')
    parser.add_argument('--probe-train-images', type=int, help='first N images (default all)')
    parser.add_argument('--probe-test-images', type=int, help='first N images (default all)')
    parser.add_argument('--probe-epochs', type=int, default=30)
    parser.add_argument('--probe-lr', type=float, default=0.1)
    parser.add_argument('--knn-k', type=int, default=20)
    parser.add_argument('--knn-temperature', type=float, default=0.07)
    parser.add_argument('--eval-config', help='finetune / miou: the config tools/train.py runs '
                        'with the pretrained encoder')
    parser.add_argument('--eval-cfg-options', nargs='+', action=DictAction)
    parser.add_argument('--checkpoint-key', help='finetune / miou: the eval config key that '
                        'takes the pretraining checkpoint path (e.g. '
                        'model.decode_head.decoder_checkpoint for DDeP); default: the backbone '
                        "is initialised from the checkpoint's backbone. keys")
    parser.add_argument('--eval-metric', help='finetune / miou: the logged metric to report '
                        '(default top1 / mIoU)')
    return parser.parse_args(argv)


def sweep_from_args(args: argparse.Namespace) -> Sweep:
    settings = EvalSettings(
        seed=args.seed, pool=tuple(args.pool), probe_train_split=args.probe_train_split,
        probe_test_split=args.probe_test_split, probe_train_images=args.probe_train_images,
        probe_test_images=args.probe_test_images, probe_epochs=args.probe_epochs,
        probe_lr=args.probe_lr, knn_k=args.knn_k, knn_temperature=args.knn_temperature,
        eval_config=args.eval_config, eval_cfg_options=args.eval_cfg_options,
        eval_metric=args.eval_metric, checkpoint_key=args.checkpoint_key)
    return Sweep(config=args.config, grid=[parse_grid(text) for text in args.grid],
                 evals=tuple(args.eval), work_dir=args.work_dir, name=args.name,
                 cfg_options=args.cfg_options, settings=settings)


def main(argv=None) -> List[dict]:
    with one_line_errors():
        return run_sweep(sweep_from_args(parse_args(argv)))


if __name__ == '__main__':
    main()
