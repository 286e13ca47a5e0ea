from . import transforms  # noqa: F401  (registers the transforms)
from .image_dataset import FASHION_MNIST_CLASSES, ImageDataset, read_idx
from .tar_shards import TarShardDataset

__all__ = ['FASHION_MNIST_CLASSES', 'ImageDataset', 'read_idx', 'TarShardDataset']
