"""Training entry points: a config made ready to train, and the run itself.

``tools/train.py`` parses its command line into :func:`training_config` and calls :func:`train`;
the sweep and the tests call the same two functions, so that one run behaves the same from
every caller.
"""
import logging
import os.path as osp
import shlex
from typing import Optional, Sequence, Tuple

import torch
from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from mimlab.engine.checkpoint import (find_resume_checkpoint, load_local_checkpoint,
                                     remove_stale_temporaries)
from mimlab.engine.errors import ConfigError
from mimlab.engine.optimizers import set_amp
from mimlab.models.utils.state_dict import load_whole_model
from mimlab.registry import check_config_types
from .prepare import fit_schedule, join_cpu_process_group, prepare_config


def training_config(cfg: Config, *, work_dir: Optional[str] = None,
                    resume: Optional[str] = None, amp: Optional[str] = None,
                    auto_scale_lr: bool = False, launcher: str = 'none',
                    cfg_options: Optional[dict] = None,
                    data_root: Optional[str] = None) -> Config:
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
        data_root: the data folder of every dataloader (``--data-root``; see
            :func:`mimlab.apis.prepare.prepare_config`).

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
    if cfg.get('compile'):
        # mmengine's top-level key compiles the whole train_step, optimizer step included, which
        # dynamo cannot trace; compile the model's training forward instead (BaseAlgorithm)
        if cfg.model.get('compile'):
            raise ConfigError('compile: set model.compile only, not also the top-level compile')
        cfg.model.compile = cfg.pop('compile')
        print('config: top-level compile moved to model.compile (the optimizer step stays '
              'eager)', flush=True)
    set_amp(cfg.optim_wrapper, amp, 'cuda' if torch.cuda.is_available() else 'cpu')
    join_cpu_process_group(cfg)
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
    check_resume_length(cfg)
    prepare_config(cfg, data_root=data_root, distributed=launcher != 'none',
                   loaders=training_loaders(cfg))
    return cfg


def training_loaders(cfg: Config) -> Tuple[str, ...]:
    """The dataloaders a training run reads: the training one, and the validation one when the
    config validates during training (``val_cfg``). The test dataloader is for ``tools/test.py``
    only: pretraining needs nothing but training images."""
    return ('train_dataloader',) + (('val_dataloader',) if cfg.get('val_cfg') else ())


def check_schedule(cfg: Config) -> None:
    """The lr schedule fitted to the run's length before anything is built
    (:func:`~mimlab.apis.prepare.fit_schedule`): a run shorter than the recipe's warm-up (a smoke
    test, ``train_cfg.max_epochs=1``) leaves out the schedulers that would begin after it ends,
    with one warning; a run longer than a schedule of fixed ends is refused, naming the key."""
    fit_schedule(cfg)


def fit_iteration_schedule(runner: Runner) -> None:
    """Fit the iteration-based schedulers of an epoch loop (a warm-up of N steps, a cosine from
    step N) to the run's length in iterations, which is known once the training dataloader is
    built (:func:`~mimlab.apis.prepare.fit_schedule`): a 2-epoch smoke run of 10 iterations with
    a 20-step warm-up ends inside it instead of failing to build a cosine from step 20 to 10."""
    schedulers = runner.param_schedulers
    as_list = [schedulers] if isinstance(schedulers, dict) else schedulers
    train_cfg = runner.cfg.get('train_cfg') or {}
    if not isinstance(as_list, (list, tuple)) or 'max_epochs' not in train_cfg:
        return
    if all(not isinstance(s, dict) or s.get('by_epoch', True) for s in as_list):
        return  # every scheduler counts epochs: fitted with the config (check_schedule)
    schedule = Config(dict(param_scheduler=schedulers, train_cfg=train_cfg))
    fit_schedule(schedule, iters_per_epoch=len(runner.train_loop.dataloader))
    runner.param_schedulers = schedule.param_scheduler


def check_resume_length(cfg: Config) -> None:
    """Refuse to resume a run with another length than it was started with: mmengine restores
    the old schedule (a cosine that already ended keeps its last lr for the added epochs)."""
    if not cfg.get('resume') or not cfg.get('load_from'):
        return
    meta = load_local_checkpoint(cfg.load_from, 'cpu').get('meta') or {}
    try:
        old = Config.fromstring(meta['cfg'], '.py').get('train_cfg') or {}
    except Exception:  # no config text in the checkpoint, or one this mmengine cannot read
        return
    new = cfg.get('train_cfg') or {}
    for unit in ('max_epochs', 'max_iters'):
        if old.get(unit) is not None and new.get(unit) is not None and old[unit] != new[unit]:
            raise ConfigError(
                f'--resume: {cfg.load_from} was trained with train_cfg.{unit}={old[unit]}, this '
                f'run asks for {new[unit]}; a resumed run keeps its learning-rate schedule, '
                f'which was built for {old[unit]}. To train longer on its weights with a schedule '
                f'for the new length, start a new run from them: --cfg-options '
                f'load_from={cfg.load_from} train_cfg.{unit}={new[unit]} (without --resume), '
                f'or resume with train_cfg.{unit}={old[unit]}')


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
    fit_iteration_schedule(runner)
    log_scaled_lr(runner)
    if cfg.get('load_from') and not cfg.get('resume'):
        # mmengine loads load_from non-strictly: a checkpoint of another model would leave it
        # as initialised (a run "from scratch") with a warning among hundreds of lines
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        load_whole_model(model, cfg.load_from, key='load_from')
    with torch.autograd.set_detect_anomaly(detect_anomaly):
        runner.train()
    return runner


def log_scaled_lr(runner: Runner) -> Optional[float]:
    """With ``auto_scale_lr.enable`` (``--auto-scale-lr``), log the factor mmengine scales the lr
    by (processes x ``train_dataloader.batch_size`` / ``auto_scale_lr.base_batch_size``) and the
    lr it gives; returns the factor (None when the lr is not scaled)."""
    scale = runner.cfg.get('auto_scale_lr') or {}
    if not scale.get('enable'):
        return None
    batch = runner.cfg.train_dataloader.batch_size
    total = runner.world_size * batch
    factor = total / scale['base_batch_size']
    lr = (runner.cfg.optim_wrapper.get('optimizer') or {}).get('lr')
    scaled = f': optim_wrapper.optimizer.lr {lr:g} -> {lr * factor:g}' if lr is not None else ''
    print_log(f'--auto-scale-lr: total batch {total} ({runner.world_size} process(es) x '
              f'{batch}) / auto_scale_lr.base_batch_size {scale["base_batch_size"]:g} = factor '
              f'{factor:g}{scaled}', logger='current', level=logging.INFO)
    return factor


def resume_command(argv: Sequence[str], tool: str = 'tools/train.py') -> str:
    """The command line that continues the run started with ``argv`` (the tool's arguments):
    the same arguments with ``--resume`` (from the last checkpoint of the work dir) in place of
    any ``--resume`` given."""
    args, skip = [], False
    for i, arg in enumerate(argv):
        if skip:
            skip = False
            continue
        if arg == '--resume':
            # argparse takes a following word that is not an option as the checkpoint
            skip = i + 1 < len(argv) and not argv[i + 1].startswith('-')
            continue
        if arg.startswith('--resume='):
            continue
        args.append(arg)
    return shlex.join(['python', tool, *args, '--resume'])


def interrupted(work_dir: Optional[str], argv: Sequence[str],
                tool: str = 'tools/train.py') -> str:
    """The one line a run stopped by Ctrl-C ends with: where it stands, and how to go on."""
    checkpoint = last_checkpoint(work_dir) if work_dir else None
    where = (f'the last checkpoint is {checkpoint}' if checkpoint else
             'no checkpoint was saved yet (the command starts afresh)')
    return f'interrupted; {where}; continue with: {resume_command(argv, tool)}'


def last_checkpoint(work_dir: str) -> Optional[str]:
    """The checkpoint that the work dir's ``last_checkpoint`` names, or None."""
    pointer = osp.join(work_dir, 'last_checkpoint')
    if not osp.isfile(pointer):
        return None
    with open(pointer) as f:
        return f.read().strip()


def summary(runner: Runner, work_dir: str) -> str:
    """Where a finished run left its work: for the user, after training. Only what exists is
    named (no pictures folder when the run drew none)."""
    lines = [
        'Training finished.', f'  work dir:        {work_dir}',
        f'  last checkpoint: {last_checkpoint(work_dir) or "(none saved)"}']
    if osp.isdir(runner.log_dir):
        lines.append(f'  log:             {runner.log_dir}')
    if osp.isdir(osp.join(work_dir, 'vis')):
        lines.append(f'  pictures:        {osp.join(work_dir, "vis")}')
    return '\n'.join(lines)
