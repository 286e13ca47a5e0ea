from .formatting import PackInputs
from .loading import LoadImage
from .processing import CenterCrop, RandomResizedCrop, ResizeShortEdge

__all__ = ['CenterCrop', 'LoadImage', 'PackInputs', 'RandomResizedCrop', 'ResizeShortEdge']
