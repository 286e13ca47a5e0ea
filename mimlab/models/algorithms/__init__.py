from .base import BasePretrainer
from .mae import MAE, Reconstruction

__all__ = ['BasePretrainer', 'MAE', 'Reconstruction']
