"""What resuming and frequent checkpoints cost, measured on a training config.

- :func:`time_to_first_batch`: from a checkpoint at position k of an epoch, the time until the
  resumed run has its first batch, by sampler state (what mimlab's loops do) and by replaying
  the k batches before it (what mmengine's ``IterBasedTrainLoop`` does).
- :func:`checkpoint_stall`: the wall time of training iterations with and without an
  iteration-interval checkpoint, against the time of the save alone.
"""
import copy
import os.path as osp
import tempfile
import time
from typing import Dict, List, Sequence

from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.runner import Runner
from torch.utils.data import DataLoader

from mimlab.apis.train import training_config
from mimlab.engine.loops import resumable_dataloader


def _train_loader(cfg: Config) -> DataLoader:
    loader_cfg = resumable_dataloader(copy.deepcopy(cfg.train_dataloader.to_dict()))
    return Runner.build_dataloader(loader_cfg, seed=0)


def time_to_first_batch(cfg: Config, fractions: Sequence[float]) -> List[Dict[str, float]]:
    """For each fraction f of an epoch of ``cfg``'s training data: seconds to the first batch
    after position f by sampler state (``skip``) and by replay (drawing the batches before it).
    """
    loader = _train_loader(cfg)
    sampler = loader.batch_sampler.sampler
    rows = []
    for fraction in fractions:
        batches = min(int(fraction * len(loader)), len(loader) - 1)
        start = time.perf_counter()
        sampler.skip(batches * loader.batch_size)
        next(iter(loader))
        skip = time.perf_counter() - start
        start = time.perf_counter()
        replay = iter(loader)
        for _ in range(batches + 1):
            next(replay)
        rows.append(dict(fraction=fraction, batch=batches, skip_s=skip,
                         replay_s=time.perf_counter() - start))
    return rows


class _IterationTimes(Hook):
    priority = 'LOWEST'  # after the checkpoint hook's after_train_iter

    def __init__(self) -> None:
        self.times: List[float] = []

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        self._start = time.perf_counter()

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        self.times.append(time.perf_counter() - self._start)


def checkpoint_stall(cfg: Config, interval: int, work_dir: str) -> Dict[str, float]:
    """Train ``cfg`` (a short run) with a checkpoint every ``interval`` iterations; returns the
    median time of an iteration that saves and of one that does not, and the median time of
    the same save called on its own."""
    cfg = copy.deepcopy(cfg)
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', by_epoch=False, interval=interval,
                                        max_keep_ckpts=2, backend_args=dict(backend='atomic_local'))
    cfg.custom_hooks = []
    cfg = training_config(cfg, work_dir=work_dir)
    timer = _IterationTimes()
    runner = Runner.from_cfg(cfg)
    runner.register_hook(timer)
    runner.train()
    saving = sorted(t for i, t in enumerate(timer.times) if (i + 1) % interval == 0 and i > 0)
    plain = sorted(t for i, t in enumerate(timer.times) if (i + 1) % interval and i > 0)
    alone = []
    with tempfile.TemporaryDirectory() as folder:
        for _ in range(5):
            start = time.perf_counter()
            runner.save_checkpoint(folder, 'alone.pth', by_epoch=False,
                                   backend_args=dict(backend='atomic_local'))
            alone.append(time.perf_counter() - start)
        size = osp.getsize(osp.join(folder, 'alone.pth'))
    return dict(iterations=len(timer.times), interval=interval,
                step_s=plain[len(plain) // 2], step_with_save_s=saving[len(saving) // 2],
                save_alone_s=sorted(alone)[2], checkpoint_mb=size / 2**20)
