"""Image datasets read from local files: idx archives (MNIST/Fashion-MNIST), ImageNet-style class
folders, or a plain folder of images; which one is found from ``data_root``."""
import gzip
import logging
import os
import os.path as osp
from typing import List, Optional, Sequence, Tuple

import numpy as np
from mmengine.dataset import BaseDataset
from mmengine.logging import print_log

from mimlab.registry import DATASETS
from .transforms import BadImageError

IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.pgm', '.tif', '.tiff', '.webp')
FASHION_MNIST_CLASSES = ('T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt',
                         'Sneaker', 'Bag', 'Ankle boot')
# The idx file prefix of each split name.
IDX_SPLITS = {'train': 'train', 'test': 't10k', 'val': 't10k', 't10k': 't10k'}
_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: '>i2', 0x0C: '>i4', 0x0D: '>f4', 0x0E: '>f8'}


def read_idx(path: str) -> np.ndarray:
    """Parse an idx file (optionally gzipped), the format of MNIST and Fashion-MNIST."""
    opener = gzip.open if path.endswith('.gz') else open
    with opener(path, 'rb') as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_DTYPES:
        raise ValueError(f'{path} is not an idx file (bad magic number {data[:4]!r})')
    ndim = data[3]
    header = 4 + 4 * ndim
    shape = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], 'big') for i in range(ndim))
    array = np.frombuffer(data, dtype=_IDX_DTYPES[data[2]], offset=header)
    if array.size != int(np.prod(shape)):
        raise ValueError(f'{path}: header says shape {shape}, file holds {array.size} values')
    return array.reshape(shape)


def find_idx(data_root: str, split: str) -> Optional[Tuple[str, str]]:
    """The (images, labels) idx files of ``split`` in ``data_root`` (gzipped or not), or None."""
    prefix = IDX_SPLITS.get(split)
    if prefix is None:
        return None
    for suffix in ('.gz', ''):
        images = osp.join(data_root, f'{prefix}-images-idx3-ubyte{suffix}')
        labels = osp.join(data_root, f'{prefix}-labels-idx1-ubyte{suffix}')
        if osp.isfile(images) and osp.isfile(labels):
            return images, labels
    return None


# Folder names that are splits, never classes. 'test' and 'val' both name the held-out split (as
# for the idx archives): a folder that has only one of them serves both. ADE20K's names
# ('training', 'validation': the DDeP configs) read an own folder's train/ and val/ too.
SPLIT_NAMES = ('train', 'val', 'test')
_SAME_SPLIT = {'test': ('val',), 'val': ('test',), 'training': ('train',),
               'validation': ('val', 'test')}


def split_folder(data_root: str, split: str) -> str:
    """The folder that holds ``split`` under ``data_root``: ``data_root/<split>``, the other
    held-out name ('val' for 'test' and back; 'train' for ADE20K's 'training', 'val' or 'test'
    for 'validation') when only that exists, or ``data_root`` itself
    when it has no split folders at all (a folder of classes or of images).

    Raises:
        FileNotFoundError: ``data_root`` has split folders but not this one (naming those it has):
            reading ``data_root`` itself would take the split folders for classes.
    """
    for name in (split, *_SAME_SPLIT.get(split, ())):
        if osp.isdir(osp.join(data_root, name)):
            return osp.join(data_root, name)
    present = [name for name in SPLIT_NAMES if osp.isdir(osp.join(data_root, name))]
    if present:
        raise FileNotFoundError(
            f'split {split!r} does not exist under data_root={data_root!r}: it has the splits '
            f'{", ".join(present)} (choose one of them; a folder named like a split is never '
            'read as a class)')
    return data_root


def _is_image(name: str) -> bool:
    return name.lower().endswith(IMG_EXTENSIONS)


def class_folders(folder: str) -> List[str]:
    """The sorted names of the sub-folders of ``folder`` (hidden ones left out): its classes."""
    return sorted(e.name for e in os.scandir(folder) if e.is_dir() and not e.name.startswith('.'))


def label_order(data_root: str, split: str = 'train',
                classes: Optional[Sequence[str]] = None) -> Optional[Tuple[str, ...]]:
    """The class names whose indices an :class:`ImageDataset` of ``data_root``/``split`` gives
    as labels, found without reading an image: ``classes`` when given, Fashion-MNIST's for idx
    archives, else the class folders of the training split (of ``data_root`` itself without
    split folders); None for a folder of images (no labels).

    Raises:
        FileNotFoundError: ``split`` is missing while other splits exist (:func:`split_folder`).
    """
    if classes:
        return tuple(classes)
    if find_idx(data_root, split) is not None:
        return FASHION_MNIST_CLASSES
    train = osp.join(data_root, 'train')
    folder = train if osp.isdir(train) else split_folder(data_root, split)
    return tuple(class_folders(folder)) or None


@DATASETS.register_module()
class ImageDataset(BaseDataset):
    """Images (and class labels where the layout has them) from ``data_root``.

    Layouts, tried in this order:

    1. idx archives: ``{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]`` (Fashion-MNIST as
       Debian's ``dataset-fashion-mnist`` installs it in ``/usr/share/datasets/fashion-mnist``).
       Split 'train' reads ``train-*``, 'val'/'test' read ``t10k-*``.
    2. ImageNet style: ``data_root/<split>/<class>/*.jpg`` (or ``data_root/<class>/*.jpg`` when
       there are no split folders); classes are the sorted folder names of the training split
       (``classes`` when given), and every split labels its images by class *name* with the
       training split's indices: a held-out split that lacks a class keeps the others' labels,
       and one with a class the training split lacks is an error naming it. 'test' reads
       ``val/`` when there is no ``test/`` folder and back (see :func:`split_folder`); a split
       that is missing while others exist is an error naming those that do.
    3. A plain folder of images: ``data_root/<split>/*.jpg`` or ``data_root/*.jpg``; no labels.

    Each sample is a dict with ``img`` (idx, an HxW uint8 array) or ``img_path`` (files), and
    ``gt_label`` (-1 without labels), passed through ``pipeline``.

    Args:
        data_root: the folder.
        split: 'train', 'val' or 'test' (see above).
        pipeline: transforms.
        indices: keep only these samples (int: the first N), mmengine's convention.
        classes: class names: of idx data (default: Fashion-MNIST's), or the label order of
            class folders (default: the training split's folder names).
        skip_bad_images: in training, replace an image the pipeline refuses
            (:class:`~mimlab.datasets.transforms.BadImageError`: unreadable, truncated, not an
            image, too small) by another random sample and log a warning naming the file and
            the count so far (``num_skipped``, per process), instead of stopping the run.
            In ``test_mode`` (the held-out views of :func:`~mimlab.datasets.builder.
            build_split_dataset`) a bad image is left out instead: the sample is None, which
            :func:`~mimlab.datasets.builder.collate_present` drops, so that a result counts
            only the images it measured. Without the option a bad image always raises.
    """

    def __init__(self, data_root: str, split: str = 'train', pipeline=(), indices=None,
                 classes: Optional[Tuple[str, ...]] = None, skip_bad_images: bool = False,
                 test_mode: bool = False, lazy_init: bool = False,
                 max_refetch: int = 1000) -> None:
        if not osp.isdir(data_root):
            raise FileNotFoundError(f'dataset data_root={data_root!r} is not a folder')
        self.split = split
        self.skip_bad_images = skip_bad_images
        self.num_skipped = 0
        self._classes = tuple(classes) if classes else None
        self._images: Optional[np.ndarray] = None
        super().__init__(data_root=data_root, pipeline=list(pipeline), indices=indices,
                         test_mode=test_mode, lazy_init=lazy_init, max_refetch=max_refetch,
                         serialize_data=True)

    def load_data_list(self) -> List[dict]:
        idx_files = find_idx(self.data_root, self.split)
        if idx_files is not None:
            return self._load_idx(*idx_files)
        data_list = self._load_folder(split_folder(self.data_root, self.split))
        if not data_list:
            raise FileNotFoundError(
                f'no images found for split {self.split!r} under data_root={self.data_root!r}: '
                f'expected idx archives ({IDX_SPLITS.get(self.split, self.split)}-images-idx3-'
                f'ubyte.gz), <split>/<class>/*.jpg, <class>/*.jpg or a folder of images '
                f'({", ".join(IMG_EXTENSIONS)})')
        return data_list

    def _load_idx(self, images_path: str, labels_path: str) -> List[dict]:
        images = read_idx(images_path)
        labels = read_idx(labels_path)
        if images.ndim != 3 or len(images) != len(labels):
            raise ValueError(f'{images_path} holds {images.shape} images but {labels_path} '
                             f'holds {labels.shape} labels')
        self._images = images
        self._metainfo['classes'] = self._classes or FASHION_MNIST_CLASSES
        return [dict(img_index=i, gt_label=int(label)) for i, label in enumerate(labels)]

    def _load_folder(self, folder: str) -> List[dict]:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
        classes = class_folders(folder)
        data_list = []
        if classes:
            order = label_order(self.data_root, self.split, self._classes) or tuple(classes)
            unknown = [name for name in classes if name not in order]
            if unknown:
                source = ('the classes argument' if self._classes else
                          f'the training split {osp.join(self.data_root, "train")}')
                raise ValueError(
                    f'split {self.split!r} of data_root={self.data_root!r} has the class '
                    f'folder(s) {", ".join(unknown)}, which {source} lacks: labels follow the '
                    'training classes by name, so remove or rename them')
            labels = {name: i for i, name in enumerate(order)}
            for name in classes:
                for root, dirs, files in os.walk(osp.join(folder, name), followlinks=True):
                    dirs.sort()
                    data_list += [dict(img_path=osp.join(root, f), gt_label=labels[name])
                                  for f in sorted(files) if _is_image(f)]
            self._metainfo['classes'] = tuple(order)
        else:
            data_list = [dict(img_path=e.path, gt_label=-1) for e in entries
                         if e.is_file() and _is_image(e.name)]
        return data_list

    def get_data_info(self, idx: int) -> dict:
        info = super().get_data_info(idx)
        if 'img_index' in info:
            info['img'] = self._images[info['img_index']]
        info['sample_idx'] = idx
        return info

    def __getitem__(self, idx: int):
        if self.test_mode and self.skip_bad_images:
            if not self._fully_initialized:
                self.full_init()
            return self.prepare_data(idx)  # None for a bad image: left out, not replaced
        return super().__getitem__(idx)

    def prepare_data(self, idx: int):
        if not self.skip_bad_images:
            return super().prepare_data(idx)
        try:
            return super().prepare_data(idx)
        except BadImageError as err:
            self.num_skipped += 1
            what = 'left out' if self.test_mode else 'skipped'
            print_log(f'{what} a bad image ({self.num_skipped} so far in this process): {err}',
                      logger='current', level=logging.WARNING)
            return None  # training: BaseDataset draws another sample
