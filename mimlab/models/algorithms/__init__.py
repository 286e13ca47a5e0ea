from .base import BaseAlgorithm
from .cae import CAE
from .classifier import ImageClassifier
from .ddep import DDeP
from .dvae import DVAEPretrain
from .mae import MAE, MFF, Reconstruction

__all__ = ['BaseAlgorithm', 'CAE', 'DDeP', 'DVAEPretrain', 'ImageClassifier', 'MAE', 'MFF',
           'Reconstruction']
