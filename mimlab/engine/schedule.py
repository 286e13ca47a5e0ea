"""The learning rate over a run: the schedule fitted to the run's length, the scaled lr logged.

A run shorter than its recipe (a smoke test ending inside the warm-up) leaves out the schedulers
that would begin after it ends; a run longer than a schedule of fixed ends is refused, naming the
key to change. :func:`fit_schedule` works on the config before anything is built;
:func:`fit_iteration_schedule` on a built runner, once the epoch's length in iterations is known.
:func:`log_scaled_lr` says what ``--auto-scale-lr`` made of the lr.
"""
import logging
from typing import Dict, Optional

from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.runner import Runner

from mimlab.registry import ConfigError

# Schedulers after whose end the lr is the optimizer's own lr again: a warm-up, then a constant lr.
_BACK_TO_BASE = ('LinearLR', 'ConstantLR')


def _unit(by_epoch: bool) -> str:
    return 'epoch' if by_epoch else 'iteration'


def _ends_at_base_lr(sched: dict) -> bool:
    kind = str(sched.get('type', '')).split('.')[-1]
    return kind in _BACK_TO_BASE and (kind == 'ConstantLR' or sched.get('end_factor', 1.0) == 1.0)


def fit_schedule(cfg: Config, iters_per_epoch: Optional[int] = None) -> None:
    """Fit ``cfg.param_scheduler`` (changed in place) to the run's length
    (``train_cfg.max_epochs`` or ``train_cfg.max_iters``), for every config:

    - a run shorter than the schedule: the schedulers that would begin after training ends are
      left out, with one warning (a smoke test of a recipe ends inside its warm-up);
    - a run longer than a schedule whose every scheduler has a fixed ``end``: refused, naming the
      ``param_scheduler.N.end`` to change (after that end the lr would stay where the schedule
      left it, e.g. 0 after a poly decay, for the rest of the run). A scheduler without ``end``
      ends with training (mmengine's default), and a schedule of warm-ups only (``LinearLR`` to
      the base lr, ``ConstantLR``) continues at the optimizer's lr.

    Iteration-based schedulers (``by_epoch=False``) inside an epoch loop are measured in
    iterations: pass ``iters_per_epoch`` (known once the dataloader is built; until then they are
    left as they are).

    Raises:
        ConfigError: every scheduler begins after training ends, or the run outlasts the schedule.
    """
    train_cfg = cfg.get('train_cfg') or {}
    schedulers = cfg.get('param_scheduler')
    if not schedulers or not isinstance(schedulers, (list, tuple, dict)):
        return
    single = isinstance(schedulers, dict)
    if single and 'type' not in schedulers:
        return  # one schedule per optimizer (a dict of lists): left to the config
    as_list = [schedulers] if single else list(schedulers)
    if 'max_epochs' in train_cfg:
        loop_by_epoch, total = True, train_cfg['max_epochs']
        lengths: Dict[bool, Optional[int]] = {
            True: total, False: total * iters_per_epoch if iters_per_epoch else None}
    elif 'max_iters' in train_cfg:
        loop_by_epoch, total = False, train_cfg['max_iters']
        lengths = {False: total, True: None}
    else:
        return
    if not isinstance(total, int):
        return
    unit_key = 'max_epochs' if loop_by_epoch else 'max_iters'
    run = f'train_cfg.{unit_key}={total}'

    def length(sched: dict) -> Optional[int]:
        return lengths[bool(sched.get('by_epoch', True))]

    def key(i: int) -> str:
        return 'param_scheduler' if single else f'param_scheduler.{i}'

    kept, dropped = [], []
    for i, sched in enumerate(as_list):
        n = length(sched)
        if n is not None and sched.get('begin', 0) >= n:
            unit = _unit(sched.get('by_epoch', True))
            dropped.append(f'{key(i)} ({sched.get("type")}, from {unit} {sched["begin"]})')
        else:
            kept.append((i, sched))
    if dropped and not kept:
        raise ConfigError(f'every param_scheduler begins after {run} ends: train longer')
    if dropped:
        in_iters = '' if lengths[loop_by_epoch] == lengths[False] or lengths[False] is None \
            else f' ({lengths[False]} iterations)'
        warmup = [f'{s.get("type")} until {s["end"]}' for _, s in kept
                  if s.get('end') is not None and length(s) is not None and s['end'] > length(s)]
        inside = f'; the run ends inside the warm-up ({", ".join(warmup)})' if warmup else ''
        print_log(f'{run}{in_iters} ends before {", ".join(dropped)} begins, so it is left '
                  f'out{inside}', logger='current', level=logging.WARNING)
        cfg.param_scheduler = [s for _, s in kept]
    _refuse_outlasted_schedule(kept, lengths, run, iters_per_epoch, key)


def _refuse_outlasted_schedule(kept, lengths, run: str, iters_per_epoch: Optional[int],
                               key) -> None:
    """The second rule of :func:`fit_schedule`: a run longer than a schedule of fixed ends."""
    if any(s.get('end') is None for _, s in kept):
        return  # a scheduler ends with training: the schedule follows the run
    units = {bool(s.get('by_epoch', True)) for _, s in kept}
    if any(lengths[u] is None for u in units):
        return  # measured in a unit whose length is not known yet
    mixed = len(units) > 1  # then compare in iterations

    def end_of(sched: dict) -> int:
        by_epoch = bool(sched.get('by_epoch', True))
        return sched['end'] * (iters_per_epoch if mixed and by_epoch else 1)

    total = lengths[False] if mixed else lengths[units.pop()]
    # after the last end every factor keeps its final value: the lr stays the optimizer's own
    # only if every scheduler ends there (warm-ups)
    lasting = [(i, s) for i, s in kept if not _ends_at_base_lr(s)]
    if max(end_of(s) for _, s in kept) >= total or not lasting:
        return
    i, last = max(lasting, key=lambda item: end_of(item[1]))
    by_epoch = bool(last.get('by_epoch', True))
    raise ConfigError(
        f'{run} outlasts the lr schedule: {key(i)} ({last.get("type")}) ends at '
        f'{_unit(by_epoch)} {last["end"]}, and from there on the lr would stay where the schedule '
        f'left it. Make the schedule as long as the run (--cfg-options '
        f'{key(i)}.end={lengths[by_epoch]}) or train for {last["end"]} {_unit(by_epoch)}s')



def fit_iteration_schedule(runner: Runner) -> None:
    """Fit the iteration-based schedulers of an epoch loop (a warm-up of N steps, a cosine from
    step N) to the run's length in iterations, which is known once the training dataloader is
    built (:func:`fit_schedule`): a 2-epoch smoke run of 10 iterations with a 20-step warm-up
    ends inside it instead of failing to build a cosine from step 20 to 10."""
    schedulers = runner.param_schedulers
    as_list = [schedulers] if isinstance(schedulers, dict) else schedulers
    train_cfg = runner.cfg.get('train_cfg') or {}
    if not isinstance(as_list, (list, tuple)) or 'max_epochs' not in train_cfg:
        return
    if all(not isinstance(s, dict) or s.get('by_epoch', True) for s in as_list):
        return  # every scheduler counts epochs: fitted with the config (fit_schedule)
    schedule = Config(dict(param_scheduler=schedulers, train_cfg=train_cfg))
    fit_schedule(schedule, iters_per_epoch=len(runner.train_loop.dataloader))
    runner.param_schedulers = schedule.param_scheduler


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
