from .non_finite_guard_hook import NonFiniteGuardHook
from .random_state_hook import RandomStateHook, get_random_state, set_random_state
from .reconstruction_hook import ReconstructionHook

__all__ = ['NonFiniteGuardHook', 'RandomStateHook', 'ReconstructionHook', 'get_random_state',
           'set_random_state']
