from . import transforms  # noqa: F401  (registers the transforms)
from .builder import build_split_dataset, collate_present, sample_indices
from .few_label import FewLabelDataset, draw_label_split
from .image_dataset import FASHION_MNIST_CLASSES, ImageDataset, read_idx
from .samplers import ResumableSampler, SeededSamples, epoch_seeds, seed_generators
from .tar_shards import TarShardDataset

__all__ = ['FASHION_MNIST_CLASSES', 'FewLabelDataset', 'ImageDataset', 'ResumableSampler',
           'SeededSamples', 'TarShardDataset', 'build_split_dataset', 'collate_present',
           'draw_label_split', 'epoch_seeds', 'read_idx', 'sample_indices', 'seed_generators']
