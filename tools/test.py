"""Evaluate a checkpoint with a config's test loop: ``python tools/test.py CONFIG CKPT``.

For a pretraining config this reports the reconstruction loss on the held-out split."""
import argparse
import logging
import os
import os.path as osp

from mmengine.config import Config, DictAction
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.runner import Runner

from mimlab.apis.prepare import prepare_config
from mimlab.engine.checkpoint import allow_unsafe_load
from mimlab.engine.config_checks import (exit_after_process_group, join_cpu_process_group,
                                         leave_process_group, merge_options)
from mimlab.engine.errors import one_line_errors
from mimlab.engine.resume import trained_model_differences
from mimlab.models.utils.state_dict import load_whole_model
from mimlab.registry import check_config_types


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Evaluate a checkpoint')
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='where the evaluation log goes')
    parser.add_argument('--data-root', help="the data folder of the config's dataloaders "
                        '(e.g. an ImageNet-style folder with train/ and val/)')
    parser.add_argument('--out', help='write the metrics as JSON to this file')
    parser.add_argument('--unsafe-load', action='store_true',
                        help='load checkpoints with torch.load(weights_only=False): lets the file '
                        'run code when unpickled; only for checkpoints from a source you trust')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config keys, e.g. test_dataloader.batch_size=64')
    parser.add_argument('--tta', action='store_true',
                        help="test-time augmentation of an mmseg config: its tta_pipeline "
                        "(e.g. scales 0.5-1.75 and flips) and tta_model")
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def use_tta(cfg: Config, path: str) -> None:
    """Evaluate with the config's ``tta_pipeline`` and ``tta_model`` wrapping its model (as
    mmseg's own test tool does)."""
    missing = [k for k in ('tta_model', 'tta_pipeline') if k not in cfg]
    if missing:
        raise SystemExit(f'--tta: {path} has no {" or ".join(missing)}')
    cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline
    cfg.tta_model.module = cfg.model
    cfg.model = cfg.tta_model


def main(argv=None) -> dict:
    args = parse_args(argv)
    for path in (args.config, args.checkpoint):
        if not osp.isfile(path):
            raise SystemExit(f'{path} does not exist')
    allow_unsafe_load(args.unsafe_load)
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    with one_line_errors(cfg):
        merge_options(cfg, args.cfg_options)
        differ = trained_model_differences(cfg, args.checkpoint)
        if differ:
            print_log(f'{args.checkpoint} was trained with another model config than this one; '
                      f'its figures are those of the model built here: {"; ".join(differ)}',
                      logger='current', level=logging.WARNING)
    if 'test_dataloader' not in cfg:
        raise SystemExit(f'{args.config} has no test_dataloader/test_evaluator to evaluate with')
    cfg.work_dir = args.work_dir or osp.join(
        'work_dirs', osp.splitext(osp.basename(args.config))[0])
    cfg.load_from = args.checkpoint
    cfg.resume = False
    if args.tta:
        use_tta(cfg, args.config)
    with one_line_errors(cfg):
        prepare_config(cfg, data_root=args.data_root, distributed=args.launcher != 'none',
                       loaders=('test_dataloader',))
        join_cpu_process_group(cfg)
        check_config_types(cfg)
        runner = Runner.from_cfg(cfg)
        # mmengine loads non-strictly: another model's checkpoint would be evaluated with
        # random weights and a warning lost in the log
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        load_whole_model(model, args.checkpoint)
        metrics = runner.test()
    if args.out and runner.rank == 0:
        from mmengine.fileio import dump
        dump(metrics, args.out)
    leave_process_group()
    return metrics


if __name__ == '__main__':
    main()
    exit_after_process_group()
