from .checkpoint import (AtomicLocalBackend, UnsafeCheckpointError, allow_unsafe_load,
                         atomic_write, install_checkpoint_loader, load_local_checkpoint,
                         register_safe_globals)
from .fsdp import vit_block_auto_wrap_policy
from .hooks import ReconstructionHook
from .optimizers import AutocastOptimWrapper, LayerDecayOptimWrapperConstructor

__all__ = [
    'AtomicLocalBackend', 'LayerDecayOptimWrapperConstructor', 'UnsafeCheckpointError',
    'allow_unsafe_load', 'atomic_write', 'install_checkpoint_loader', 'load_local_checkpoint',
    'register_safe_globals', 'ReconstructionHook',
    'AutocastOptimWrapper', 'vit_block_auto_wrap_policy',
]
