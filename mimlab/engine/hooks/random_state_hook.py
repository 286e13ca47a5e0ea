"""Random draws that a resumed run repeats exactly: per-iteration seeds, and the checks that a
resumed checkpoint fits the run."""
import random
from typing import Optional, Tuple

import numpy as np
import torch
from mmengine.dataset import DefaultSampler
from mmengine.hooks import Hook

from mimlab.datasets import ResumableSampler, seed_generators
from mimlab.registry import HOOKS, ConfigError


def get_random_state() -> dict:
    """The states of torch's (CPU and CUDA), numpy's and Python's global generators, as tensors
    and plain numbers, so that ``torch.load(weights_only=True)`` reads them back."""
    _, keys, pos, has_gauss, cached_gaussian = np.random.get_state()
    version, internal, gauss_next = random.getstate()
    state = dict(
        torch=torch.get_rng_state(),
        numpy=dict(keys=torch.from_numpy(keys.astype(np.int64)), pos=int(pos),
                   has_gauss=int(has_gauss), cached_gaussian=float(cached_gaussian)),
        python=dict(version=version, internal=torch.tensor(internal, dtype=torch.int64),
                    gauss_next=gauss_next))
    if torch.cuda.is_available():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def set_random_state(state: dict) -> None:
    """Put back what :func:`get_random_state` returned."""
    torch.set_rng_state(state['torch'])
    np_state = state['numpy']
    np.random.set_state(('MT19937', np_state['keys'].numpy().astype(np.uint32), np_state['pos'],
                         np_state['has_gauss'], np_state['cached_gaussian']))
    py_state = state['python']
    random.setstate((py_state['version'], tuple(py_state['internal'].tolist()),
                     py_state['gauss_next']))
    if 'cuda' in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state['cuda'])


def iteration_seed(seed: int, rank: int, iteration: int) -> int:
    """The seed of the global generators for ``iteration`` on ``rank`` of a run seeded with
    ``seed`` (numpy's ``SeedSequence`` mixes the three)."""
    return int(np.random.SeedSequence([seed, rank, iteration]).generate_state(1)[0])


def seed_iteration(seed: int) -> None:
    """Seed torch's (CPU and, once CUDA is in use, CUDA), numpy's and Python's global
    generators with ``seed``."""
    seed_generators(seed)
    if torch.cuda.is_initialized():  # torch.manual_seed would queue a costly lazy call
        torch.cuda.manual_seed_all(seed)


@HOOKS.register_module()
class RandomStateHook(Hook):
    """Make what a training iteration draws a function of (seed, rank, iteration), so that a
    resumed run draws what the uninterrupted run drew, on every rank; check that a resumed run
    can continue exactly.

    Before each training iteration the global generators (torch CPU and CUDA, numpy, Python:
    the masks, drop-path, ...) are seeded from the run's seed, the rank (when
    ``randomness.diff_rank_seed``, mmengine's default in mimlab) and the iteration. Nothing
    drawn before (a worker's history, a validation, a picture hook, the iterations of an
    earlier run) changes what the next iteration draws, and no generator state needs to travel
    from every rank to the checkpoint (mmengine writes it on rank 0 alone). The augmentations are
    seeded per sample (:class:`mimlab.datasets.SeededSamples`); the data order comes from the
    sampler (a function of seed and epoch).

    Every checkpoint also gets the global random states (``random_state``, for the record: a
    tool can redraw the masks of a step from them), the world size and the sampler's state
    (``resume_state``). When a run resumes, a checkpoint of another world size or data order
    is refused, saying what differs and how to go on.
    """
    priority = 'VERY_LOW'  # its before_train_iter after the others'

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        seed, rank = _run_seed(runner)
        seed_iteration(iteration_seed(seed, rank, runner.iter))

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint['random_state'] = get_random_state()
        checkpoint['resume_state'] = dict(world_size=runner.world_size,
                                          sampler=_sampler_state(runner))

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        if not runner.cfg.get('resume') or 'resume_state' not in checkpoint:
            return  # a plain load_from, or a checkpoint written before these checks
        check_resume_state(checkpoint['resume_state'], dict(
            world_size=runner.world_size, sampler=_sampler_state(runner)),
            runner.cfg.get('load_from'))
        sampler = _sampler(runner)
        saved_seed = (checkpoint['resume_state'].get('sampler') or {}).get('seed')
        if saved_seed is not None and isinstance(sampler, DefaultSampler):
            # the order of the interrupted run, whatever drew this one's (mmengine puts the
            # run's own seed back after this hook, from the checkpoint's meta)
            sampler.seed = saved_seed


def _run_seed(runner) -> Tuple[int, int]:
    """The run's seed, the same on every rank, and the rank that the random draws depend on
    (0 for all without ``randomness.diff_rank_seed``; with it mmengine's ``runner.seed`` is
    the seed plus the rank)."""
    if (runner.cfg.get('randomness') or {}).get('diff_rank_seed'):
        return runner.seed - runner.rank, runner.rank
    return runner.seed, 0


def _sampler(runner):
    loader = runner.train_loop.dataloader
    return loader.batch_sampler.sampler if loader.batch_sampler is not None else loader.sampler


def _sampler_state(runner) -> dict:
    loader, sampler = runner.train_loop.dataloader, _sampler(runner)
    state = sampler.state_dict() if isinstance(sampler, ResumableSampler) else {}
    return dict(state, batch_size=loader.batch_sampler.batch_size
                if loader.batch_sampler is not None else loader.batch_size)


def check_resume_state(saved: dict, current: dict, checkpoint: Optional[str]) -> None:
    """Refuse to resume ``checkpoint`` (its ``resume_state``: ``saved``) in a run whose world
    size or data order (``current``) differ: the resumed run would not continue the one that
    was interrupted."""
    where = checkpoint or 'the checkpoint'
    if saved['world_size'] != current['world_size']:
        raise ConfigError(
            f'--resume: {where} was written by a run of {saved["world_size"]} process(es), this '
            f'run has {current["world_size"]}: each process has its own share of every epoch '
            'and its own random draws, so the run cannot go on where it stopped. Resume with '
            f'{saved["world_size"]} process(es) (e.g. tools/dist_train.sh CONFIG '
            f'{saved["world_size"]} --resume), or start a new run from its weights with '
            f'--cfg-options load_from={where} (without --resume)')
    old, new = saved.get('sampler') or {}, current.get('sampler') or {}
    differ = [f'train_dataloader {key} {old[key]} -> {new[key]}'
               for key in ('batch_size', 'dataset_size', 'shuffle', 'round_up')
               if key in old and key in new and old[key] != new[key]]
    if differ:
        raise ConfigError(
            f'--resume: {where} comes from a run with another data order '
            f'({"; ".join(differ)}), so the run cannot go on where it stopped. Resume with the '
            'options it was started with, or start a new run from its weights with '
            f'--cfg-options load_from={where} (without --resume)')
