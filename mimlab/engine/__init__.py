from .checkpoint import (AtomicLocalBackend, UnsafeCheckpointError, allow_unsafe_load,
                         atomic_write, install_checkpoint_loader, load_local_checkpoint,
                         register_safe_globals)
from .hooks import ReconstructionHook

__all__ = [
    'AtomicLocalBackend', 'UnsafeCheckpointError', 'allow_unsafe_load', 'atomic_write',
    'install_checkpoint_loader', 'load_local_checkpoint', 'register_safe_globals',
    'ReconstructionHook'
]
