from .formatting import PackInputs
from .loading import BadImageError, LoadImage, read_image
from .processing import CenterCrop, RandomResizedCrop, ResizeShortEdge

__all__ = ['BadImageError', 'CenterCrop', 'LoadImage', 'PackInputs', 'RandomResizedCrop',
           'ResizeShortEdge', 'read_image']
