"""Training loops that resume in the middle of an epoch without replaying it.

mmengine's ``EpochBasedTrainLoop`` resumed from a checkpoint saved inside an epoch runs that whole
epoch again, and its ``IterBasedTrainLoop`` draws (reads, decodes, augments) every batch before
the checkpoint and throws it away. These loops instead start the data order where the checkpoint
stands (:class:`mimlab.datasets.ResumableSampler`), so resuming at any iteration costs the same,
and they number the batches of a resumed epoch as the uninterrupted run did (the hooks' logging
and checkpoint intervals fall on the same iterations).

The loop builds its dataloader with mmengine's ``DefaultSampler`` or ``InfiniteSampler`` turned
into the :class:`~mimlab.datasets.ResumableSampler` with the same arguments, and the dataset
wrapped in :class:`~mimlab.datasets.SeededSamples` (each sample's augmentation seeded by (seed,
epoch, index)). Another sampler, or a batch sampler, is kept as it is; such a run resumes inside
an epoch by drawing and dropping the batches before the checkpoint, with a warning.
:func:`use_resumable_loop` puts these loops in a config in place of mmengine's.
"""
import copy
import logging
from typing import Iterator, Union

from mmengine.config import Config
from mmengine.hooks import CheckpointHook
from mmengine.logging import print_log
from mmengine.registry import DATASETS
from mmengine.runner import BaseLoop, EpochBasedTrainLoop, IterBasedTrainLoop
from mmengine.runner.utils import calc_dynamic_intervals
from torch.utils.data import DataLoader

from mimlab.datasets import ResumableSampler, SeededSamples
from mimlab.registry import LOOPS
from mimlab.registry import ConfigError
from .interrupt import check_interrupt

_CONVERTED = {'DefaultSampler': ('shuffle', 'seed', 'round_up'),
              'InfiniteSampler': ('shuffle', 'seed')}


def resumable_dataloader(dataloader: Union[DataLoader, dict], infinite: bool = False):
    """A copy of the dataloader config ``dataloader`` with a resumable sampler and the dataset
    wrapped in :class:`SeededSamples` (a built ``DataLoader``, another sampler, or a batch
    sampler, which groups samples in its own order, e.g. mmdet's by aspect ratio: unchanged)."""
    if not isinstance(dataloader, dict) or dataloader.get('batch_sampler') is not None:
        return dataloader
    sampler = dataloader.get('sampler')
    kind = sampler.get('type', '') if isinstance(sampler, dict) else None
    kind = kind.split('.')[-1] if isinstance(kind, str) else kind
    if kind not in (*_CONVERTED, 'ResumableSampler', ResumableSampler):
        return dataloader
    dataloader = copy.deepcopy(dataloader)
    if kind in _CONVERTED:
        kept = {k: v for k, v in sampler.items() if k in _CONVERTED[kind]}
        sampler = dict(type=ResumableSampler, infinite=infinite, **kept)
    dataloader['sampler'] = sampler
    dataset = dataloader['dataset']
    if isinstance(dataset, dict):
        dataset = DATASETS.build(dataset)
        if hasattr(dataset, 'full_init'):
            dataset.full_init()
    dataloader['dataset'] = SeededSamples(dataset)
    return dataloader


def check_checkpoint_interval(runner, max_iters: int, length: str) -> None:
    """Refuse an iteration interval of the checkpoint hook longer than the run (``length``
    describes it): no checkpoint would be written before the end."""
    for hook in runner.hooks:
        if isinstance(hook, CheckpointHook) and not hook.by_epoch and hook.interval > max_iters:
            raise ConfigError(
                f'default_hooks.checkpoint.interval={hook.interval} (by_epoch=False: '
                f'iterations) is longer than the run ({max_iters} iterations: {length}), so '
                f'no checkpoint would be saved before the end; set it to at most {max_iters}')


def _resumable_sampler(dataloader: DataLoader):
    sampler = dataloader.batch_sampler.sampler if dataloader.batch_sampler is not None \
        else dataloader.sampler
    return sampler if isinstance(sampler, ResumableSampler) else None


def _batches_from(dataloader: DataLoader, done: int, endless: bool = False) -> Iterator:
    """The batches of ``dataloader`` after the first ``done`` (with ``endless``: pass after
    pass): by sampler state, or, when the sampler cannot start part-way, by drawing and
    dropping the first ``done`` batches (with a warning)."""
    sampler = _resumable_sampler(dataloader)
    if sampler is not None:
        sampler.skip(done * dataloader.batch_sampler.batch_size)
        return iter(dataloader)  # endless if the sampler is
    batches = _endless(dataloader) if endless else iter(dataloader)
    if done:
        print_log(f'drawing and dropping {done} batches to reach the resumed iteration (the '
                  f'sampler, {type(dataloader.sampler).__name__}, or a batch sampler cannot '
                  'start part-way)', logger='current', level=logging.WARNING)
        for _ in range(done):
            next(batches)
    return batches


def _endless(dataloader: DataLoader) -> Iterator:
    """Pass after pass over ``dataloader`` (for a sampler that ends), the epoch set for each."""
    epoch = 0
    while True:
        yield from dataloader
        epoch += 1
        sampler = dataloader.batch_sampler.sampler if dataloader.batch_sampler is not None \
            else dataloader.sampler
        if hasattr(sampler, 'set_epoch'):
            sampler.set_epoch(epoch)


@LOOPS.register_module()
class ResumableEpochBasedTrainLoop(EpochBasedTrainLoop):
    """mmengine's ``EpochBasedTrainLoop`` that resumes inside an epoch at the next batch it has
    not trained on (see the module docstring); the same arguments."""

    def __init__(self, runner, dataloader, max_epochs: int, **kwargs) -> None:
        super().__init__(runner, resumable_dataloader(dataloader), max_epochs, **kwargs)
        check_checkpoint_interval(runner, self.max_iters, f'{self.max_epochs} epochs of '
                                  f'{len(self.dataloader)} iterations')

    def run_epoch(self) -> None:
        self.runner.call_hook('before_train_epoch')
        self.runner.model.train()
        # > 0 only in the first epoch of a run resumed from a checkpoint saved inside it
        done = self._iter - self._epoch * len(self.dataloader)
        if not 0 <= done <= len(self.dataloader):
            raise ConfigError(
                f'the resumed checkpoint is at iteration {self._iter}, epoch {self._epoch}, which '
                f'does not fit epochs of {len(self.dataloader)} iterations: it comes from a run '
                'with another dataset size, batch size or number of processes')
        for idx, data_batch in enumerate(_batches_from(self.dataloader, done), done):
            check_interrupt()
            self.run_iter(idx, data_batch)
        self.runner.call_hook('after_train_epoch')
        self._epoch += 1


@LOOPS.register_module()
class ResumableIterBasedTrainLoop(IterBasedTrainLoop):
    """mmengine's ``IterBasedTrainLoop`` that resumes at the next batch without drawing the
    batches before it (see the module docstring); the same arguments. The data loader starts
    (its workers too) when training starts, not when the loop is built."""

    def __init__(self, runner, dataloader, max_iters: int, val_begin: int = 1,
                 val_interval: int = 1000, dynamic_intervals=None) -> None:
        # mmengine's __init__ would start iterating the data loader here, before a resume
        # has said where to begin; the rest is the same
        BaseLoop.__init__(self, runner, resumable_dataloader(dataloader, infinite=True))
        self._max_iters = int(max_iters)
        self._max_epochs, self._epoch, self._iter = 1, 0, 0
        self.val_begin, self.val_interval = val_begin, val_interval
        self.stop_training = False
        if hasattr(self.dataloader.dataset, 'metainfo'):
            self.runner.visualizer.dataset_meta = self.dataloader.dataset.metainfo
        self.dynamic_milestones, self.dynamic_intervals = calc_dynamic_intervals(
            self.val_interval, dynamic_intervals)

    def run(self):
        """mmengine's ``run`` with the data loader started at the resumed iteration."""
        self.runner.call_hook('before_train')
        self.runner.call_hook('before_train_epoch')
        batches = _batches_from(self.dataloader, self._iter, endless=True)
        while self._iter < self._max_iters and not self.stop_training:
            check_interrupt()
            self.runner.model.train()
            self.run_iter(next(batches))
            self._decide_current_val_interval()
            if (self.runner.val_loop is not None and self._iter >= self.val_begin
                    and (self._iter % self.val_interval == 0 or self._iter == self._max_iters)):
                self.runner.val_loop.run()
        self.runner.call_hook('after_train_epoch')
        self.runner.call_hook('after_train')
        return self.runner.model


# mmengine's training loops and mimlab's that resume inside an epoch without replaying it
_RESUMABLE_LOOPS = {'EpochBasedTrainLoop': 'mimlab.ResumableEpochBasedTrainLoop',
                    'IterBasedTrainLoop': 'mimlab.ResumableIterBasedTrainLoop'}


def use_resumable_loop(cfg: Config) -> None:
    """Train with mimlab's resumable loop (the loops above) where the config asks
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
