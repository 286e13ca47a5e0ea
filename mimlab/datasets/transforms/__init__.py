from .formatting import PackInputs
from .loading import LoadImage
from .processing import CenterCrop, RandomCrop, RandomResizedCrop, ResizeShortEdge

__all__ = [
    'CenterCrop', 'LoadImage', 'PackInputs', 'RandomCrop', 'RandomResizedCrop', 'ResizeShortEdge'
]
