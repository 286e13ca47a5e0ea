from .random_state_hook import RandomStateHook, get_random_state, set_random_state
from .reconstruction_hook import ReconstructionHook

__all__ = ['RandomStateHook', 'ReconstructionHook', 'get_random_state', 'set_random_state']
