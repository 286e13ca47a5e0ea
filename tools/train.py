"""Train a mimlab config: ``python tools/train.py CONFIG [options]``."""
import argparse
import os
import os.path as osp

import torch
from mmengine.config import Config, DictAction
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from mimlab.engine.checkpoint import (allow_unsafe_load, find_resume_checkpoint,
                                     remove_stale_temporaries)
from mimlab.engine.errors import one_line_errors


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a model with a mimlab config')
    parser.add_argument('config', help='config file')
    parser.add_argument('--work-dir', help='where logs, checkpoints and pictures go '
                        '(default: work_dirs/<config name>)')
    parser.add_argument('--resume', nargs='?', type=str, const='auto',
                        help='resume from CKPT, or with no value from the last checkpoint in the '
                        'work dir (the newest epoch_N.pth when last_checkpoint is broken; starting '
                        'afresh if there is none)')
    parser.add_argument('--amp', nargs='?', const='fp16', choices=['fp16', 'bf16'],
                        help='automatic mixed precision: fp16 (the default; dynamic loss '
                        'scaling, GPU only) or bf16 (autocast without a scaler, GPU or CPU)')
    parser.add_argument('--auto-scale-lr', action='store_true',
                        help="scale the lr by the actual total batch / the config's "
                        'auto_scale_lr.base_batch_size')
    parser.add_argument('--detect-anomaly', action='store_true',
                        help="autograd anomaly detection: a backward that produces NaN fails "
                        'at once with the forward operation that caused it (slow; for debugging)')
    parser.add_argument('--unsafe-load', action='store_true',
                        help='load checkpoints with torch.load(weights_only=False): lets the file '
                        'run code when unpickled; only for checkpoints from a source you trust')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config keys, e.g. train_cfg.max_epochs=10 '
                        'train_dataloader.dataset.data_root=/data/my_images')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none',
                        help='job launcher (dist_train.sh sets pytorch)')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def merge_args(cfg: Config, args: argparse.Namespace) -> Config:
    cfg.launcher = args.launcher
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    cfg.work_dir = args.work_dir or cfg.get('work_dir') or osp.join(
        'work_dirs', osp.splitext(osp.basename(args.config))[0])
    if args.amp == 'bf16':
        if cfg.optim_wrapper.get('type', 'OptimWrapper') != 'OptimWrapper':
            raise SystemExit(f'--amp: the config already uses {cfg.optim_wrapper.type}')
        cfg.optim_wrapper.type = 'AutocastOptimWrapper'
        cfg.optim_wrapper.dtype = 'bfloat16'
    elif args.amp:
        if not torch.cuda.is_available():
            raise SystemExit('--amp needs a CUDA GPU (mmengine AmpOptimWrapper); run without it '
                             'on the CPU')
        if cfg.optim_wrapper.get('type', 'OptimWrapper') != 'OptimWrapper':
            raise SystemExit(f'--amp: the config already uses {cfg.optim_wrapper.type}')
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    if args.launcher == 'pytorch' and not torch.cuda.is_available():
        # CPU-only processes (a test of a multi-node launch, or a CPU cluster): mmengine's
        # init_dist always picks a CUDA device, so join the gloo group here (mmengine then skips
        # its own), and run DDP without device ids (mmengine would pass the local rank as one).
        torch.distributed.init_process_group(backend='gloo')
        cfg.setdefault('model_wrapper_cfg', dict(type='MMDistributedDataParallel',
                                                 device_ids=None, broadcast_buffers=False))
        if cfg.get('strategy', {}).get('type') == 'FSDPStrategy':
            cfg.strategy.setdefault('model_wrapper', {}).setdefault('device_id',
                                                                    torch.device('cpu'))
    if args.auto_scale_lr:
        if 'base_batch_size' not in cfg.get('auto_scale_lr', {}):
            raise SystemExit('--auto-scale-lr needs auto_scale_lr.base_batch_size in the config')
        cfg.auto_scale_lr.enable = True
        # The paper's rule counts every image of an optimizer step; mmengine counts GPUs x
        # batch_size only, so fold gradient accumulation into the base batch.
        accumulate = cfg.optim_wrapper.get('accumulative_counts', 1)
        cfg.auto_scale_lr.base_batch_size = cfg.auto_scale_lr.base_batch_size / accumulate
    if args.resume == 'auto':
        # not mmengine's own search: it trusts last_checkpoint, which a kill can leave empty
        cfg.load_from = find_resume_checkpoint(cfg.work_dir)
        cfg.resume = cfg.load_from is not None
    elif args.resume is not None:
        if not osp.isfile(args.resume):
            raise SystemExit(f'--resume: checkpoint {args.resume} does not exist')
        cfg.resume = True
        cfg.load_from = args.resume
    check_schedule(cfg)
    return cfg


def check_schedule(cfg: Config) -> None:
    """Fail before building anything when a scheduler starts after training ends (e.g. a short
    ``train_cfg.max_epochs`` with the recipe's warm-up), instead of deep inside mmengine."""
    train_cfg = cfg.get('train_cfg') or {}
    by_epoch = 'max_epochs' in train_cfg
    total = train_cfg.get('max_epochs', train_cfg.get('max_iters'))
    schedulers = cfg.get('param_scheduler') or []
    for i, sched in enumerate([schedulers] if isinstance(schedulers, dict) else schedulers):
        begin = sched.get('begin', 0)
        if total is not None and sched.get('by_epoch', True) == by_epoch and begin >= total:
            unit = 'max_epochs' if by_epoch else 'max_iters'
            raise SystemExit(
                f'param_scheduler[{i}] ({sched.get("type")}) begins at {begin} but '
                f'train_cfg.{unit} is {total}: train longer or shorten the warm-up '
                f'(param_scheduler[{i - 1 if i else 0}].end)')


def main(argv=None) -> None:
    args = parse_args(argv)
    if not osp.isfile(args.config):
        raise SystemExit(f'config file {args.config} does not exist')
    allow_unsafe_load(args.unsafe_load)
    cfg = merge_args(Config.fromfile(args.config), args)
    if args.resume is not None:
        for path in remove_stale_temporaries(cfg.work_dir):
            print(f'removed {path}, left by a run killed while saving', flush=True)
    with one_line_errors():
        # FlexibleRunner (FSDP, DeepSpeed) when the config names it
        runner = RUNNERS.build(cfg) if 'runner_type' in cfg else Runner.from_cfg(cfg)
        with torch.autograd.set_detect_anomaly(args.detect_anomaly):
            runner.train()
    if runner.rank == 0:
        last = osp.join(cfg.work_dir, 'last_checkpoint')
        ckpt = open(last).read().strip() if osp.exists(last) else '(none saved)'
        print(f'\nTraining finished.\n  work dir:        {cfg.work_dir}\n'
              f'  last checkpoint: {ckpt}\n  log:             {runner.log_dir}\n'
              f'  pictures:        {osp.join(cfg.work_dir, "vis")}', flush=True)


if __name__ == '__main__':
    main()
