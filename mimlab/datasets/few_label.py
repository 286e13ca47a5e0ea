"""Few-label subsets (1% / 10% of the labels) for semi-supervised fine-tuning: drawn once from a
seed, class-balanced, saved to a split file and read back on every later run."""
import hashlib
import json
import os
import os.path as osp
from typing import List, Optional, Sequence, Union

import numpy as np
from mmengine.dataset import BaseDataset

from mimlab.registry import DATASETS


def draw_label_split(labels: Sequence[int], fraction: float, seed: int = 0) -> List[int]:
    """Sorted indices of ``fraction`` of the samples of each class (rounded, at least one per
    class), drawn with numpy's ``default_rng(seed)``: the same labels and seed give the same
    split on any machine."""
    if not 0 < fraction <= 1:
        raise ValueError(f'label fraction must be in (0, 1], got {fraction}')
    labels = np.asarray(labels)
    if labels.size == 0 or labels.min() < 0:
        raise ValueError('a label split needs a dataset whose samples all have class labels')
    rng = np.random.default_rng(seed)
    chosen = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        count = max(1, int(round(fraction * len(members))))
        chosen.append(rng.choice(members, size=count, replace=False))
    return sorted(int(i) for i in np.concatenate(chosen))


def data_name(data_root: str) -> str:
    """A file-name-safe name of a data folder: its base name and a short hash of its absolute
    path (``fashion-mnist-1a2b3c4d``), so that two folders never share a name."""
    path = osp.abspath(data_root)
    digest = hashlib.sha1(path.encode()).hexdigest()[:8]
    return f'{osp.basename(path.rstrip(os.sep)) or "root"}-{digest}'


def load_or_draw_split(split_file: Optional[str], labels: Sequence[int], fraction: float,
                       seed: int, data_root: Optional[str] = None) -> List[int]:
    """The indices saved in ``split_file`` if it exists (checked against the dataset, fraction,
    seed and data folder), else a new split drawn with :func:`draw_label_split` and saved there
    with them."""
    source = osp.abspath(data_root) if data_root else None
    if split_file and osp.isfile(split_file):
        with open(split_file) as f:
            saved = json.load(f)
        expected = dict(fraction=fraction, seed=seed, num_source=len(labels))
        if source is not None and 'data_root' in saved:
            expected['data_root'] = source
        wrong = {k: saved.get(k) for k, v in expected.items() if saved.get(k) != v}
        if wrong:
            raise ValueError(f'label split file {split_file} was drawn with {wrong}, but the '
                             f'config asks for {expected}: delete the file or point split_file '
                             'elsewhere')
        return list(saved['indices'])
    indices = draw_label_split(labels, fraction, seed)
    if split_file:
        record = dict(fraction=fraction, seed=seed, num_source=len(labels),
                      num_images=len(indices), data_root=source, indices=indices)
        os.makedirs(osp.dirname(osp.abspath(split_file)), exist_ok=True)
        tmp = f'{split_file}.{os.getpid()}.tmp'  # ranks drawing at once write the same content
        with open(tmp, 'w') as f:
            json.dump(record, f)
        os.replace(tmp, split_file)
    return indices


@DATASETS.register_module()
class FewLabelDataset:
    """The labelled subset of ``dataset`` that few-label fine-tuning trains on.

    Args:
        dataset: the full labelled dataset (a config dict or a dataset).
        fraction: share of the labels kept, per class (0.01, 0.1).
        seed: seed of the draw.
        split_file: JSON file holding the drawn indices; written on first use and read back
            afterwards, so every run (and every rank) trains on the same images. ``{data}`` in
            it is replaced by the name of the dataset's data folder (:func:`data_name`), so
            that the splits of different folders never share a file.
    """

    def __init__(self, dataset: Union[dict, BaseDataset], fraction: float, seed: int = 0,
                 split_file: Optional[str] = None) -> None:
        self.dataset = DATASETS.build(dataset) if isinstance(dataset, dict) else dataset
        if not isinstance(self.dataset, BaseDataset):
            raise TypeError(f'FewLabelDataset needs an mmengine BaseDataset (e.g. ImageDataset), '
                            f'got {type(self.dataset).__name__}')
        self.dataset.full_init()
        labels = [self.dataset.get_data_info(i)['gt_label'] for i in range(len(self.dataset))]
        data_root = self.dataset.data_root or None
        if split_file and data_root:
            split_file = split_file.replace('{data}', data_name(data_root))
        self.split_indices = load_or_draw_split(split_file, labels, fraction, seed, data_root)
        self.fraction, self.seed, self.split_file = fraction, seed, split_file
        # in place, so that a sample the dataset replaces (a skipped bad image) comes from the
        # split too
        self.dataset.get_subset_(self.split_indices)

    @property
    def metainfo(self) -> dict:
        return self.dataset.metainfo

    def full_init(self) -> None:
        """Done at construction (the runner calls it)."""

    def get_data_info(self, idx: int) -> dict:
        return self.dataset.get_data_info(idx)

    def __getitem__(self, idx: int):
        return self.dataset[idx]

    def __len__(self) -> int:
        return len(self.dataset)
