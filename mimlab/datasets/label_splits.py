"""Label-fraction splits for label-efficient segmentation: a fixed subset of the training images,
drawn from a seed and saved as a file of image basenames (mmseg's ``ann_file`` format, e.g. for
``ADE20KDataset``), so that every run at a fraction trains on the same images."""
import os
import os.path as osp
from typing import Dict, Iterable, List, Sequence

import numpy as np


def image_basenames(folder: str, suffix: str = '.jpg') -> List[str]:
    """The sorted names, without ``suffix``, of the files in ``folder`` that end with it."""
    if not osp.isdir(folder):
        raise FileNotFoundError(f'image folder {folder} does not exist')
    return sorted(e.name[:-len(suffix)] for e in os.scandir(folder)
                  if e.is_file() and e.name.endswith(suffix))


def split_size(num_images: int, percent: float) -> int:
    """Images in a ``percent`` split of ``num_images``: rounded, at least one."""
    if not 0 < percent <= 100:
        raise ValueError(f'label percent must lie in (0, 100], got {percent}')
    return max(1, round(num_images * percent / 100))


def label_fraction_split(names: Sequence[str], percent: float, seed: int = 0,
                         exclude: Iterable[str] = ()) -> List[str]:
    """``percent`` % of ``names`` (less any in ``exclude``, e.g. the validation images), drawn
    by a permutation fixed by ``seed``, sorted. The same seed gives nested splits: each smaller
    fraction is a subset of every larger one."""
    pool = sorted(set(names) - set(exclude))
    if not pool:
        raise ValueError('no training images left to draw a label split from')
    order = np.random.default_rng(seed).permutation(len(pool))
    return sorted(pool[i] for i in order[:split_size(len(pool), percent)])


def split_filename(percent: float, seed: int) -> str:
    return f'train_{percent:g}pct_seed{seed}.txt'


def write_label_splits(data_root: str, percents: Sequence[float], seed: int = 0,
                       img_dir: str = 'images/training', val_dir: str = 'images/validation',
                       img_suffix: str = '.jpg', out_dir: str = 'splits') -> Dict[float, str]:
    """Write one split file per percent under ``data_root/out_dir``; returns {percent: path}.
    Names come from ``img_dir``; those also in ``val_dir`` (if it exists) are never drawn."""
    names = image_basenames(osp.join(data_root, img_dir), img_suffix)
    val_folder = osp.join(data_root, val_dir)
    held_out = image_basenames(val_folder, img_suffix) if osp.isdir(val_folder) else []
    os.makedirs(osp.join(data_root, out_dir), exist_ok=True)
    paths = {}
    for percent in percents:
        path = osp.join(data_root, out_dir, split_filename(percent, seed))
        with open(path, 'w') as f:
            f.writelines(f'{name}\n' for name in label_fraction_split(names, percent, seed,
                                                                      held_out))
        paths[percent] = path
    return paths
