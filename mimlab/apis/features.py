"""Encoder features extracted once and cached in a file, for the linear probe and kNN."""
import os
import os.path as osp
from typing import Dict, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.config import Config

from mimlab.datasets.builder import build_split_dataset
from mimlab.datasets.image_dataset import find_idx, split_folder
from mimlab.evaluation import extract_features
from mimlab.visualization.feature_map import draw_feature_maps, embed_2d, resolve_method
from .inference import init_model

FEATURES_VERSION = 1


def data_root_of(cfg: Config) -> Optional[str]:
    """The absolute data folder of the config's training dataset (inside wrappers such as
    ``FewLabelDataset``), the folder every split of the features is read from; None if it has
    none."""
    dataset = cfg.train_dataloader.dataset
    while isinstance(dataset, dict) and 'data_root' not in dataset and \
            isinstance(dataset.get('dataset'), dict):
        dataset = dataset['dataset']
    root = dataset.get('data_root') if isinstance(dataset, dict) else None
    return osp.abspath(root) if isinstance(root, str) else None


def check_held_out(cfg: Config, splits: Sequence[str]) -> None:
    """Refuse to read another split from the training split's images (a folder without split
    folders serves every split from itself): a kNN or probe on them would call the training
    images held out."""
    root = data_root_of(cfg)
    if 'train' not in splits or root is None or not osp.isdir(root):
        return

    def source(split: str) -> Optional[str]:
        idx = find_idx(root, split)
        try:
            return idx[0] if idx is not None else split_folder(root, split)
        except FileNotFoundError:
            return None  # named when the split is read

    train = source('train')
    for split in splits:
        if split != 'train' and train is not None and source(split) == train:
            raise ValueError(
                f'the {split!r} split would read the training images ({train} has no '
                'split folders): a held-out accuracy on it would be measured on the training '
                f'images; put held-out images in {osp.join(root, "val")}/<class>/')


def extract_split_features(model: torch.nn.Module, splits: Sequence[str] = ('train', 'test'),
                           pool: str = 'cls', max_images: Optional[int] = None
                           ) -> Tuple[Dict[str, Tuple[torch.Tensor, torch.Tensor]], tuple]:
    """{split: ((N, D) features, (N,) labels)} of the model's config dataset, read through its
    ``test_pipeline`` (see :func:`~mimlab.evaluation.extract_features`), and the class names.
    Splits that would read the same images are refused (:func:`check_held_out`)."""
    check_held_out(model.cfg, splits)
    out, classes = {}, ()
    for split in splits:
        dataset = build_split_dataset(model.cfg, split, indices=max_images)
        if not dataset.metainfo.get('classes'):
            raise ValueError(f'the {split!r} split has no class labels (a plain folder of images '
                             'cannot be probed)')
        classes = classes or tuple(dataset.metainfo['classes'])
        out[split] = extract_features(model, dataset, pool=pool)
    return out, classes


def save_features(path: str, features: Dict[str, Tuple[torch.Tensor, torch.Tensor]],
                  classes: Sequence[str], **meta) -> None:
    """Write ``features`` ({split: (feats, labels)}) with the class names and ``meta`` (config,
    checkpoint, pool, ...) to ``path`` (a torch file of tensors, strings and numbers only)."""
    record = dict(version=FEATURES_VERSION, classes=list(classes), meta=meta,
                  splits={k: dict(feats=f.float().contiguous(), labels=y.long().contiguous())
                          for k, (f, y) in features.items()})
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    tmp = f'{path}.{os.getpid()}.tmp'
    torch.save(record, tmp)
    os.replace(tmp, path)


def load_features(path: str, splits: Sequence[str] = ()) -> dict:
    """A file written by :func:`save_features` (loaded with ``weights_only=True``), checked to
    hold ``splits``. Returns dict(classes, meta, splits={name: (feats, labels)})."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'features file {path} does not exist (write it with '
                                'tools/analysis_tools/extract_features.py)')
    record = torch.load(path, map_location='cpu', weights_only=True)
    if not isinstance(record, dict) or record.get('version') != FEATURES_VERSION:
        raise ValueError(f'{path} is not a features file of version {FEATURES_VERSION} '
                         '(written by tools/analysis_tools/extract_features.py)')
    missing = [s for s in splits if s not in record['splits']]
    if missing:
        raise KeyError(f'{path} holds the splits {sorted(record["splits"])}, not {missing}')
    record['splits'] = {k: (v['feats'], v['labels']) for k, v in record['splits'].items()}
    return record


def feature_map(cfg, checkpoint: Optional[str], split: str = 'test', max_images: int = 2000,
                method: str = 'auto', random_init: bool = False, pool: str = 'cls',
                seed: int = 0) -> Tuple[np.ndarray, str]:
    """A picture of ``split``'s features (the first ``max_images``) mapped to 2-D
    (:func:`~mimlab.visualization.feature_map.embed_2d`) and coloured by class: the
    checkpoint's encoder, and with ``random_init`` the same network at random init (seed
    ``seed``) beside it. Returns ((H, W, 3) uint8 picture, the method used)."""
    method = resolve_method(method)
    encoders = [(osp.basename(checkpoint) if checkpoint else 'random init', checkpoint)]
    if random_init and checkpoint is not None:
        encoders.append(('random init (same network)', None))
    panels, classes = [], ()
    for name, ckpt in encoders:
        torch.manual_seed(seed)
        model = init_model(cfg, ckpt)
        features, classes = extract_split_features(model, (split,), pool, max_images)
        feats, labels = features[split]
        panels.append((name, embed_2d(feats, method, seed), labels.numpy()))
    title = f'{osp.basename(cfg.filename or "")}: {len(panels[0][2])} {split} images, {method}'
    return draw_feature_maps(panels, classes, title), method
