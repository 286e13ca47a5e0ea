from .metrics import ReconstructionLoss

__all__ = ['ReconstructionLoss']
