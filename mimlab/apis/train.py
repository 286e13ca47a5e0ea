"""Training entry points: a config made ready to train, and the run itself.

``tools/train.py`` parses its command line into :func:`training_config` and calls :func:`train`;
the sweep and the tests call the same two functions, so that one run behaves the same from
every caller. The checks and fixes they apply live in :mod:`mimlab.engine` (``config_checks``,
``schedule``, ``loops``, ``resume``).
"""
import os.path as osp
from typing import Optional, Tuple

import torch
from mmengine.config import Config
from mmengine.model import is_model_wrapper
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from mimlab.engine.checkpoint import remove_stale_temporaries
from mimlab.engine.config_checks import join_cpu_process_group, merge_options
from mimlab.engine.loops import use_resumable_loop
from mimlab.engine.optimizers import set_amp
from mimlab.engine.resume import check_resume_config
from mimlab.engine.schedule import fit_iteration_schedule, fit_schedule, log_scaled_lr
from mimlab.engine.workdir import latest_checkpoint
from mimlab.models.utils.state_dict import load_whole_model
from mimlab.registry import ConfigError, check_config_types
from .prepare import prepare_config


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
    merge_options(cfg, cfg_options)
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
        cfg.load_from = latest_checkpoint(cfg.work_dir, fallback=True)
        cfg.resume = cfg.load_from is not None
    elif resume is not None:
        if not osp.isfile(resume):
            raise ConfigError(f'--resume: checkpoint {resume} does not exist')
        cfg.resume = True
        cfg.load_from = resume
    if resume is not None:
        for path in remove_stale_temporaries(cfg.work_dir):
            print(f'removed {path}, left by a run killed while saving', flush=True)
    fit_schedule(cfg)
    use_resumable_loop(cfg)
    prepare_config(cfg, data_root=data_root, distributed=launcher != 'none',
                   loaders=training_loaders(cfg))
    check_resume_config(cfg)
    return cfg


def training_loaders(cfg: Config) -> Tuple[str, ...]:
    """The dataloaders a training run reads: the training one, and the validation one when the
    config validates during training (``val_cfg``). The test dataloader is for ``tools/test.py``
    only: pretraining needs nothing but training images."""
    return ('train_dataloader',) + (('val_dataloader',) if cfg.get('val_cfg') else ())


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


def summary(runner: Runner, work_dir: str) -> str:
    """Where a finished run left its work: for the user, after training. Only what exists is
    named (no pictures folder when the run drew none)."""
    lines = [
        'Training finished.', f'  work dir:        {work_dir}',
        f'  last checkpoint: {latest_checkpoint(work_dir) or "(none saved)"}']
    if osp.isdir(runner.log_dir):
        lines.append(f'  log:             {runner.log_dir}')
    if osp.isdir(osp.join(work_dir, 'vis')):
        lines.append(f'  pictures:        {osp.join(work_dir, "vis")}')
    return '\n'.join(lines)
