from .non_finite_guard_hook import NonFiniteGuardHook
from .preemption_hook import Preempted, PreemptionHook
from .random_state_hook import RandomStateHook, get_random_state, set_random_state
from .reconstruction_hook import ReconstructionHook
from .safe_checkpoint_loader_hook import SafeCheckpointLoaderHook

__all__ = ['NonFiniteGuardHook', 'Preempted', 'PreemptionHook', 'RandomStateHook',
           'ReconstructionHook', 'SafeCheckpointLoaderHook', 'get_random_state',
           'set_random_state']
