from .augment import AugmentationChoice, ColorJitter
from .auto_augment import RandAugment
from .corruption import ImageCorruption, corrupt_image, corruption_names
from .formatting import PackInputs
from .loading import BadImageError, LoadImage, decode_image, read_image
from .processing import CenterCrop, RandomCrop, RandomResizedCrop, ResizeShortEdge

__all__ = [
    'AugmentationChoice', 'BadImageError', 'CenterCrop', 'ColorJitter', 'ImageCorruption',
    'LoadImage', 'PackInputs', 'RandAugment', 'RandomCrop', 'RandomResizedCrop', 'ResizeShortEdge',
    'corrupt_image', 'corruption_names', 'decode_image', 'read_image'
]
