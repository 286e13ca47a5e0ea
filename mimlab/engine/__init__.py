from .checkpoint import (AtomicLocalBackend, UnsafeCheckpointError, allow_unsafe_load,
                         atomic_write, install_checkpoint_loader, load_local_checkpoint,
                         write_json)
from .fsdp import vit_block_auto_wrap_policy
from .hooks import Preempted, PreemptionHook, ReconstructionHook, SafeCheckpointLoaderHook
from .loops import ResumableEpochBasedTrainLoop, ResumableIterBasedTrainLoop
from .optimizers import AutocastOptimWrapper, LayerDecayOptimWrapperConstructor, set_amp

__all__ = [
    'AtomicLocalBackend', 'AutocastOptimWrapper', 'LayerDecayOptimWrapperConstructor',
    'Preempted', 'PreemptionHook', 'ReconstructionHook', 'ResumableEpochBasedTrainLoop',
    'ResumableIterBasedTrainLoop', 'SafeCheckpointLoaderHook', 'UnsafeCheckpointError',
    'allow_unsafe_load', 'atomic_write', 'install_checkpoint_loader', 'load_local_checkpoint',
    'set_amp', 'vit_block_auto_wrap_policy', 'write_json'
]
