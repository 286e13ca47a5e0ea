from .augment import AugmentationChoice, ColorJitter
from .formatting import PackInputs
from .loading import BadImageError, LoadImage, decode_image, read_image
from .processing import CenterCrop, RandomCrop, RandomResizedCrop, ResizeShortEdge

__all__ = [
    'AugmentationChoice', 'BadImageError', 'CenterCrop', 'ColorJitter', 'LoadImage', 'PackInputs',
    'RandomCrop', 'RandomResizedCrop', 'ResizeShortEdge', 'decode_image', 'read_image'
]
