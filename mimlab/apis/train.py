"""Training entry points: a config made ready to train, and the run itself.

``tools/train.py`` parses its command line into :func:`training_config` and calls :func:`train`;
the sweep and the tests call the same two functions, so that one run behaves the same from
every caller.
"""
import logging
import os.path as osp
import shlex
from typing import List, Optional, Sequence, Tuple

import torch
from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from mimlab.engine.checkpoint import load_local_checkpoint, remove_stale_temporaries
from mimlab.engine.optimizers import set_amp
from mimlab.engine.workdir import latest_checkpoint
from mimlab.models.utils.state_dict import load_whole_model
from mimlab.registry import ConfigError, check_config_types
from .prepare import fit_schedule, join_cpu_process_group, merge_options, prepare_config


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
    check_schedule(cfg)
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


# The model keys whose values make another network (another set or shape of weights).
_ARCHITECTURE_KEYS = ('type', 'arch', 'embed_dim', 'depth', 'num_heads', 'patch_size',
                      'in_chans', 'num_classes', 'decoder_embed_dim', 'decoder_depth')


def _architecture(model, path: str = 'model') -> dict:
    """{key path: value} of a model config's parts and their architecture keys (options such as
    ``norm_cfg``, which one process changes from SyncBN to BN, and ``init_cfg`` left out)."""
    found = {}
    if isinstance(model, dict):
        for key, value in model.items():
            if isinstance(value, dict) and not key.endswith('_cfg') and \
                    key != 'data_preprocessor':
                found[f'{path}.{key}'] = 'present'
                found.update(_architecture(value, f'{path}.{key}'))
            elif key in _ARCHITECTURE_KEYS:
                found[f'{path}.{key}'] = value
    return found


# What a resumed run must share with the run it continues: a change makes it another run. The
# weights' source (init_cfg) is left out: a resume takes the weights from the checkpoint.
RESUME_KEYS = ('model', 'optim_wrapper', 'param_scheduler', 'train_dataloader.batch_size',
               'randomness.seed')


def _plain(value):
    """``value`` with config dicts as dicts and tuples as lists (a config read back from its
    text keeps tuples; one built by merging options may hold lists), ``init_cfg`` left out."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if k != 'init_cfg'}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _differences(old, new, path: str) -> List[str]:
    """'key: old -> new' for each leaf where ``old`` and ``new`` differ."""
    if isinstance(old, dict) and isinstance(new, dict):
        return [d for k in sorted(set(old) | set(new), key=str)
                for d in _differences(old.get(k), new.get(k), f'{path}.{k}')]
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        return [d for i, (a, b) in enumerate(zip(old, new))
                for d in _differences(a, b, f'{path}.{i}')]
    return [] if old == new else [f'{path}: {old!r} -> {new!r}']


def check_resume_config(cfg: Config) -> None:
    """Refuse to resume a checkpoint written with another config (its :data:`RESUME_KEYS`, the
    length of the run), saying what differs and how to go on. mmengine restores the old
    schedule, optimizer state and data position into whatever the new config builds, so such a
    run would be neither the old run continued nor a new one."""
    if not cfg.get('resume') or not cfg.get('load_from'):
        return
    meta = load_local_checkpoint(cfg.load_from, 'cpu').get('meta') or {}
    try:
        old = Config.fromstring(meta['cfg'], '.py')
    except Exception:  # no config text in the checkpoint, or one this mmengine cannot read
        return
    old_arch, new_arch = _architecture(old.get('model')), _architecture(cfg.get('model'))
    differ = [f'{k}: {old_arch.get(k, "absent")} in the checkpoint, {new_arch.get(k, "absent")} '
              'here' for k in sorted(set(old_arch) | set(new_arch))
              if old_arch.get(k) != new_arch.get(k)]
    if differ:
        name = meta.get('experiment_name')
        trained = f' (trained as {name})' if name else ''
        raise ConfigError(
            f'--resume: {cfg.load_from}{trained} is a checkpoint of another model than this '
            f'config\'s ({"; ".join(differ[:3])}{" ..." if len(differ) > 3 else ""}): resume '
            'with the config it was trained with, or start a new run')
    new_train, old_train = cfg.get('train_cfg') or {}, old.get('train_cfg') or {}
    for unit in ('max_epochs', 'max_iters'):
        if old_train.get(unit) is not None and new_train.get(unit) is not None and \
                old_train[unit] != new_train[unit]:
            raise ConfigError(
                f'--resume: {cfg.load_from} was trained with train_cfg.{unit}={old_train[unit]}, '
                f'this run asks for {new_train[unit]}; a resumed run keeps its learning-rate '
                f'schedule, which was built for {old_train[unit]}. To train longer on its weights '
                'with a schedule for the new length, start a new run from them: --cfg-options '
                f'load_from={cfg.load_from} train_cfg.{unit}={new_train[unit]} (without --resume), '
                f'or resume with train_cfg.{unit}={old_train[unit]}')
    differ = []
    for key in RESUME_KEYS:
        parent, _, leaf = key.rpartition('.')
        old_value = (old.get(parent) or {}).get(leaf) if parent else old.get(key)
        new_value = (cfg.get(parent) or {}).get(leaf) if parent else cfg.get(key)
        differ += _differences(_plain(old_value), _plain(new_value), key)
    if differ:
        shown = '; '.join(differ[:4]) + (f'; and {len(differ) - 4} more' if len(differ) > 4
                                          else '')
        raise ConfigError(
            f'--resume: {cfg.load_from} was trained with another config ({shown}). Resume with '
            'the config and options it was started with (its text is in the checkpoint, '
            "meta['cfg'], and in the work dir), or start a new run from its weights with "
            f'--cfg-options load_from={cfg.load_from} (without --resume)')


# mmengine's training loops and mimlab's that resume inside an epoch without replaying it
_RESUMABLE_LOOPS = {'EpochBasedTrainLoop': 'mimlab.ResumableEpochBasedTrainLoop',
                    'IterBasedTrainLoop': 'mimlab.ResumableIterBasedTrainLoop'}


def use_resumable_loop(cfg: Config) -> None:
    """Train with mimlab's resumable loop (:mod:`mimlab.engine.loops`) where the config asks
    for mmengine's ``EpochBasedTrainLoop`` or ``IterBasedTrainLoop`` (by ``type`` or by
    ``by_epoch``): the same loop, which resumes a checkpoint saved inside an epoch at the next
    unseen batch, with each sample's augmentation seeded by (seed, epoch, index). Another loop
    type is kept."""
    train_cfg = cfg.get('train_cfg')
    if not isinstance(train_cfg, dict):
        return
    kind = train_cfg.get('type')
    if kind is None:
        by_epoch = train_cfg.pop('by_epoch', 'max_iters' not in train_cfg)
        kind = 'EpochBasedTrainLoop' if by_epoch else 'IterBasedTrainLoop'
    if isinstance(kind, str) and kind.split('.')[-1] in _RESUMABLE_LOOPS and \
            kind.split('.')[0] in ('mmengine', kind):
        train_cfg['type'] = _RESUMABLE_LOOPS[kind.split('.')[-1]]


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
    """The ``tools/train.py`` command line of ``argv`` (its arguments) that resumes the run:
    ``--resume`` in place of any ``--resume [CKPT]``; under a launcher, the hint to rerun the
    launcher the same way with ``--resume``."""
    kept, launcher, i = [], 'none', 0
    while i < len(argv):
        name, has_value, value = argv[i].partition('=')
        i += 1
        if name not in ('--resume', '--launcher', '--local_rank', '--local-rank'):
            kept.append(argv[i - 1])
            continue
        if not has_value and i < len(argv) and not argv[i].startswith('-'):
            value, i = argv[i], i + 1
        if name == '--launcher':
            launcher = value
    command = ' '.join(shlex.quote(a) for a in ['python', tool, *kept, '--resume'])
    if launcher != 'none':
        command += (f' (launched by {launcher}: rerun the launcher with the same arguments and '
                    '--resume, e.g. tools/dist_train.sh CONFIG GPUS ... --resume)')
    return command


def interrupted(work_dir: Optional[str], argv: Sequence[str],
                tool: str = 'tools/train.py') -> str:
    """The one line a run stopped by Ctrl-C ends with: where it stands, and how to go on."""
    checkpoint = latest_checkpoint(work_dir) if work_dir else None
    where = (f'the last checkpoint is {checkpoint}' if checkpoint else
             'no checkpoint was saved yet (the command starts afresh)')
    return f'interrupted; {where}; continue with: {resume_command(argv, tool)}'


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
