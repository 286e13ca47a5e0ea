from .auto_augment import RandAugment
from .corruption import ImageCorruption, corrupt_image, corruption_names
from .formatting import PackInputs
from .loading import BadImageError, LoadImage, read_image
from .processing import CenterCrop, RandomCrop, RandomResizedCrop, ResizeShortEdge

__all__ = [
    'BadImageError', 'CenterCrop', 'ImageCorruption', 'LoadImage', 'PackInputs', 'RandAugment',
    'RandomCrop', 'RandomResizedCrop', 'ResizeShortEdge', 'corrupt_image', 'corruption_names',
    'read_image'
]
