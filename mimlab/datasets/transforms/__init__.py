from .formatting import PackInputs
from .loading import BadImageError, LoadImage, decode_image, read_image
from .processing import CenterCrop, RandomCrop, RandomResizedCrop, ResizeShortEdge

__all__ = [
    'BadImageError', 'CenterCrop', 'LoadImage', 'PackInputs', 'RandomCrop', 'RandomResizedCrop',
    'ResizeShortEdge', 'read_image',
    'decode_image',
]
