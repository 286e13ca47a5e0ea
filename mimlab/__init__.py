"""mimlab: masked image modeling pretraining in the OpenMMLab style.

Importing the package does nothing else: components are registered when a registry first looks
them up (see mimlab/registry.py), and the safe checkpoint loader is installed where checkpoints
are loaded (see mimlab/engine/checkpoint.py).
"""
__version__ = '0.1.0'
