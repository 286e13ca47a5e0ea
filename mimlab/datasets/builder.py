"""Held-out views of a config's data: another split of its training dataset, read through the
deterministic test pipeline, and evenly spaced samples of it."""
import copy
import os.path as osp
from typing import List, Optional, Sequence

from mmengine.config import Config
from mmengine.dataset import pseudo_collate

from mimlab.registry import DATASETS


def sample_indices(length: int, count: int) -> List[int]:
    """``count`` indices spread evenly over a dataset of ``length`` (deterministic)."""
    count = min(count, length)
    return [int(i * length / count) for i in range(count)]


def collate_present(samples: Sequence[Optional[dict]]) -> dict:
    """``pseudo_collate`` of the samples that are there: a held-out dataset with
    ``skip_bad_images`` gives None for a bad image, which is left out."""
    return pseudo_collate([sample for sample in samples if sample is not None])


def build_split_dataset(cfg: Config, split: str, pipeline: Optional[Sequence[dict]] = None,
                        indices: Optional[int] = None):
    """The config's training dataset, read from another ``split`` through ``pipeline``
    (default: the config's ``test_pipeline``, a deterministic view) in ``test_mode`` (with
    ``skip_bad_images`` a bad image is left out, not replaced: see :func:`collate_present`);
    ``indices`` keeps the first N images."""
    if pipeline is None:
        if 'test_pipeline' not in cfg:
            raise KeyError('the config defines no test_pipeline to read held-out images with')
        pipeline = cfg.test_pipeline
    dataset_cfg = copy.deepcopy(cfg.train_dataloader.dataset)
    root = dataset_cfg.get('data_root')
    if isinstance(root, str) and not osp.isdir(root):
        raise FileNotFoundError(f'train_dataloader.dataset.data_root={root!r} is not a folder: '
                                'point it at your data with --data-root DIR')
    dataset_cfg.update(split=split, pipeline=list(pipeline), test_mode=True)
    if indices is not None:
        dataset_cfg['indices'] = indices
    return DATASETS.build(dataset_cfg)
