"""Training entry points: a config made ready to train, and the run itself.

``tools/train.py`` parses its command line into :func:`training_config` and calls :func:`train`;
the sweep and the tests call the same two functions, so that one run behaves the same from
every caller.
"""
import os.path as osp
from typing import Optional

import torch
from mmengine.config import Config
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from mimlab.engine.checkpoint import find_resume_checkpoint, remove_stale_temporaries
from mimlab.engine.errors import ConfigError
from mimlab.engine.optimizers import set_amp
from mimlab.registry import check_config_types


def training_config(cfg: Config, *, work_dir: Optional[str] = None,
                    resume: Optional[str] = None, amp: Optional[str] = None,
                    auto_scale_lr: bool = False, launcher: str = 'none',
                    cfg_options: Optional[dict] = None) -> Config:
    """``cfg`` (changed in place and returned) with the run's options applied.

    Args:
        cfg: the config, as read by ``Config.fromfile`` (its file name gives the default work dir).
        work_dir: where logs and checkpoints go; default: the config's ``work_dir``, else
            ``work_dirs/<config file name>``.
        resume: ``'auto'`` (the last checkpoint in the work dir, the newest ``epoch_N.pth`` when
            ``last_checkpoint`` is broken, starting afresh if there is none) or a checkpoint path.
        amp: ``'fp16'`` or ``'bf16'`` mixed precision (see
            :func:`mimlab.engine.optimizers.set_amp`).
        auto_scale_lr: scale the lr by the actual total batch / ``auto_scale_lr.base_batch_size``.
        launcher: mmengine's launcher ('none', 'pytorch', 'slurm', 'mpi').
        cfg_options: config keys to override (``--cfg-options``).

    Raises:
        ConfigError: an option the config cannot take, naming the option.
    """
    cfg.launcher = launcher
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    if work_dir is None and cfg.get('work_dir') is None and cfg.filename is None:
        raise ConfigError('training_config: pass work_dir (the config comes from no file)')
    cfg.work_dir = work_dir or cfg.get('work_dir') or osp.join(
        'work_dirs', osp.splitext(osp.basename(cfg.filename))[0])
    set_amp(cfg.optim_wrapper, amp, 'cuda' if torch.cuda.is_available() else 'cpu')
    if launcher == 'pytorch' and not torch.cuda.is_available():
        # CPU-only processes (a test of a multi-node launch, or a CPU cluster): mmengine's
        # init_dist always picks a CUDA device, so join the gloo group here (mmengine then skips
        # its own), and run DDP without device ids (mmengine would pass the local rank as one).
        torch.distributed.init_process_group(backend='gloo')
        cfg.setdefault('model_wrapper_cfg', dict(type='MMDistributedDataParallel',
                                                 device_ids=None, broadcast_buffers=False))
        if cfg.get('strategy', {}).get('type') == 'FSDPStrategy':
            cfg.strategy.setdefault('model_wrapper', {}).setdefault('device_id',
                                                                    torch.device('cpu'))
    if auto_scale_lr:
        if 'base_batch_size' not in cfg.get('auto_scale_lr', {}):
            raise ConfigError('--auto-scale-lr needs auto_scale_lr.base_batch_size in the config')
        cfg.auto_scale_lr.enable = True
        # The paper's rule counts every image of an optimizer step; mmengine counts GPUs x
        # batch_size only, so fold gradient accumulation into the base batch.
        accumulate = cfg.optim_wrapper.get('accumulative_counts', 1)
        cfg.auto_scale_lr.base_batch_size = cfg.auto_scale_lr.base_batch_size / accumulate
    if resume == 'auto':
        # not mmengine's own search: it trusts last_checkpoint, which a kill can leave empty
        cfg.load_from = find_resume_checkpoint(cfg.work_dir)
        cfg.resume = cfg.load_from is not None
    elif resume is not None:
        if not osp.isfile(resume):
            raise ConfigError(f'--resume: checkpoint {resume} does not exist')
        cfg.resume = True
        cfg.load_from = resume
    if resume is not None:
        for path in remove_stale_temporaries(cfg.work_dir):
            print(f'removed {path}, left by a run killed while saving', flush=True)
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
            raise ConfigError(
                f'param_scheduler[{i}] ({sched.get("type")}) begins at {begin} but '
                f'train_cfg.{unit} is {total}: train longer or shorten the warm-up '
                f'(param_scheduler[{i - 1 if i else 0}].end)')


def build_runner(cfg: Config) -> Runner:
    """mmengine's Runner, or the runner the config names (``runner_type``: FlexibleRunner for
    FSDP or DeepSpeed)."""
    return RUNNERS.build(cfg) if 'runner_type' in cfg else Runner.from_cfg(cfg)


def train(cfg: Config, detect_anomaly: bool = False) -> Runner:
    """Build the runner from ``cfg`` (see :func:`training_config`) and train; returns the runner.
    An unknown ``type`` fails before anything is built, with the closest registered names.

    Args:
        detect_anomaly: autograd anomaly detection (a backward that produces NaN fails at once
            with the forward operation that caused it; slow).
    """
    check_config_types(cfg)
    runner = build_runner(cfg)
    with torch.autograd.set_detect_anomaly(detect_anomaly):
        runner.train()
    return runner


def last_checkpoint(work_dir: str) -> Optional[str]:
    """The checkpoint that the work dir's ``last_checkpoint`` names, or None."""
    pointer = osp.join(work_dir, 'last_checkpoint')
    if not osp.isfile(pointer):
        return None
    with open(pointer) as f:
        return f.read().strip()


def summary(runner: Runner, work_dir: str) -> str:
    """Where a finished run left its work: for the user, after training."""
    lines = (
        'Training finished.', f'  work dir:        {work_dir}',
        f'  last checkpoint: {last_checkpoint(work_dir) or "(none saved)"}',
        f'  log:             {runner.log_dir}',
        f'  pictures:        {osp.join(work_dir, "vis")}')
    return '\n'.join(lines)
