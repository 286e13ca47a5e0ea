from .base import BaseAlgorithm
from .classifier import ImageClassifier
from .mae import MAE, Reconstruction

__all__ = ['BaseAlgorithm', 'ImageClassifier', 'MAE', 'Reconstruction']
from .ddep import DDeP  # noqa: E402

__all__ += ['DDeP']
