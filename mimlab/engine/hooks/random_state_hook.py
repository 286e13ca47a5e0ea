"""Random states in checkpoints, so that a resumed run draws the masks and augmentations that
the uninterrupted run would have drawn."""
import random
from typing import Optional

import numpy as np
import torch
from mmengine.hooks import Hook

from mimlab.registry import HOOKS


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


@HOOKS.register_module()
class RandomStateHook(Hook):
    """Save the global random states in every checkpoint (``checkpoint['random_state']``) and
    put them back when a run resumes, just before training goes on.

    With the seeded ``DefaultSampler`` (the data order is a function of seed and epoch) this
    makes a resumed run continue bit-identically on the CPU: the masks (torch's global
    generator) and the augmentations (numpy's, in the main process or in non-persistent
    workers) are those of the uninterrupted run. The states are restored in ``before_train``
    rather than on load because mmengine re-seeds after loading when the config's seed differs
    from the checkpoint's. A plain ``load_from`` (not a resume) starts at iteration 0 and keeps
    its own seeding. With several processes the checkpoint holds rank 0's states only, so
    nothing is restored and each rank keeps its fresh seed.
    """
    priority = 'VERY_LOW'  # after the other hooks' before_train

    def __init__(self) -> None:
        self._loaded = False
        self._state: Optional[dict] = None

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint['random_state'] = get_random_state()

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        self._loaded, self._state = True, checkpoint.get('random_state')

    def before_train(self, runner) -> None:
        if not self._loaded or runner.iter == 0:
            return
        if self._state is None:
            runner.logger.warning('the resumed checkpoint holds no random states: masks and '
                                  'augmentations from here on differ from an uninterrupted run')
        elif runner.world_size > 1:
            runner.logger.warning('resuming with several processes: random states are not '
                                  'restored (the checkpoint holds rank 0 only)')
        else:
            set_random_state(self._state)
            runner.logger.info(f'restored the random states saved at iteration {runner.iter}')
        self._loaded, self._state = False, None
