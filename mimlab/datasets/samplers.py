"""A data order that a resumed run continues without replaying it, and augmentations that do
not depend on which worker drew them.

:class:`ResumableSampler` gives each epoch the order of mmengine's ``DefaultSampler`` (a function
of seed and epoch, the same on every rank, split across ranks) and can begin an epoch at any
position (:meth:`ResumableSampler.skip`): the samples before it are neither read nor decoded, so
resuming in the middle of an epoch costs the same at every position. With ``infinite=True`` it
yields one epoch after another without end, for iteration-based loops.

It yields ``(index, sample_seed)`` pairs, the seed derived from (seed, epoch, index);
:class:`SeededSamples` wraps the dataset and runs each sample's pipeline with numpy's, Python's
and torch's global generators seeded by that seed. So the augmentation of a sample is the same
whichever worker, process or run draws it: a data-loader worker's history (persistent workers
keep theirs across epochs) no longer matters. The generators are left seeded (putting numpy's
state back would cost more than the seeding): what they hold after a batch is still a function
of the run's seed, and ``RandomStateHook`` seeds them for each training iteration anyway.
``mimlab.engine.loops`` builds both for its resumable training loops.
"""
import random
from typing import Iterator, Tuple

import numpy as np
import torch
from mmengine.dataset import DefaultSampler
from torch.utils.data import Dataset

from mimlab.registry import DATA_SAMPLERS


def epoch_seeds(seed: int, epoch: int, size: int) -> np.ndarray:
    """The augmentation seeds of the ``size`` samples of ``epoch`` of a run seeded with
    ``seed``, by sample index (numpy's ``SeedSequence`` mixes seed and epoch, so neighbouring
    values give unrelated seeds)."""
    return np.random.SeedSequence([seed, epoch]).generate_state(size)


def seed_generators(seed: int) -> None:
    """Seed numpy's, Python's and torch's CPU global generators with ``seed`` (torch's CUDA
    generators are not touched)."""
    np.random.seed(seed)
    random.seed(seed)
    torch.random.default_generator.manual_seed(seed)


class SeededSamples(Dataset):
    """``dataset`` whose items, asked for by ``(index, sample_seed)`` as
    :class:`ResumableSampler` yields them, are made after :func:`seed_generators`; a plain
    index passes through. Other attributes (``metainfo``, ...) are those of ``dataset``."""

    def __init__(self, dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, key):
        if isinstance(key, tuple):
            index, seed = key
            seed_generators(seed)
            return self.dataset[index]
        return self.dataset[key]

    def __getattr__(self, name: str):
        if name == 'dataset':  # not set yet (unpickling): no recursion
            raise AttributeError(name)
        return getattr(self.dataset, name)


@DATA_SAMPLERS.register_module()
class ResumableSampler(DefaultSampler):
    """mmengine's ``DefaultSampler`` order (same arguments) that can start an epoch part-way
    and yields ``(index, sample_seed)`` pairs (see the module docstring).

    Args:
        infinite: yield epoch after epoch without end (for ``IterBasedTrainLoop``-style loops;
            the epoch number counts the passes); ``__len__`` is then one epoch's samples.
    """

    def __init__(self, *args, infinite: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.infinite = infinite
        self._skip = 0

    def skip(self, num_samples: int) -> None:
        """Start the next iteration ``num_samples`` samples (of this rank) further on; with
        ``infinite``, past as many epochs as that spans."""
        self._skip = num_samples

    def epoch_indices(self, epoch: int) -> list:
        """This rank's indices of ``epoch``, in order (``DefaultSampler``'s order)."""
        if self.shuffle:
            g = torch.Generator()
            g.manual_seed(self.seed + epoch)
            indices = torch.randperm(len(self.dataset), generator=g).tolist()
        else:
            indices = list(range(len(self.dataset)))
        if self.round_up:
            indices = (indices * int(self.total_size / len(indices) + 1))[:self.total_size]
        return indices[self.rank:self.total_size:self.world_size]

    def __iter__(self) -> Iterator[Tuple[int, int]]:
        epoch, start = self.epoch, self._skip
        self._skip = 0
        if self.infinite:
            epoch, start = epoch + start // self.num_samples, start % self.num_samples
        while True:
            seeds = epoch_seeds(self.seed, epoch, len(self.dataset))
            for index in self.epoch_indices(epoch)[start:]:
                yield index, int(seeds[index])
            if not self.infinite:
                return
            epoch, start = epoch + 1, 0

    def state_dict(self) -> dict:
        """What decides the order: checked when a run resumes."""
        return dict(seed=self.seed, shuffle=self.shuffle, round_up=self.round_up,
                    world_size=self.world_size, dataset_size=len(self.dataset))
