from .reconstruction_hook import ReconstructionHook

__all__ = ['ReconstructionHook']
