from .base import BaseAlgorithm
from .classifier import ImageClassifier
from .mae import MAE, Reconstruction

__all__ = ['BaseAlgorithm', 'ImageClassifier', 'MAE', 'Reconstruction']
from .cae import CAE  # noqa: E402
from .dvae import DVAEPretrain  # noqa: E402

__all__ += ['CAE', 'DVAEPretrain']
from .ddep import DDeP  # noqa: E402

__all__ += ['DDeP']
