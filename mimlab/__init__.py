"""mimlab: masked image modeling pretraining in the OpenMMLab style.

Importing the package is light: components are registered when a registry first looks them up
(see mimlab/registry.py). It does install the safe checkpoint loader, so that resuming and
``Pretrained`` init work under torch >= 2.6 without unpickling arbitrary code.
"""
from .engine.checkpoint import install_checkpoint_loader, register_safe_globals

__version__ = '0.1.0'

register_safe_globals()
install_checkpoint_loader()
