"""Checks and fixes of a config for this machine and this data, before anything is built.

Each function reads or changes one part of a config and fails in one line naming the key that
cannot work, instead of deep inside a run. :func:`mimlab.apis.prepare.prepare_config` applies
them in order for every tool that builds from a config; ``--cfg-options`` go through
:func:`merge_options` first.
"""
import difflib
import inspect
import logging
import os
import os.path as osp
import sys
from typing import Iterator, List, Optional, Tuple

import torch

from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.runner import FlexibleRunner, Runner

from mimlab.datasets.image_dataset import find_idx, label_order
from mimlab.registry import ConfigError

DATALOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')
# Transforms whose ``size`` is the size of the image the model sees.
_CROPS = ('RandomResizedCrop', 'CenterCrop', 'RandomCrop')
# Norm layers that need a process group (mmcv's MMSyncBN cannot even be built without one).
_SYNC_NORMS = ('SyncBN', 'MMSyncBN')


def _datasets(cfg: Config) -> Iterator[Tuple[str, dict]]:
    """(key path, dataset config) of every dataloader's dataset, wrappers' inner ones included."""
    def walk(path: str, dataset) -> Iterator[Tuple[str, dict]]:
        if not isinstance(dataset, dict):
            return
        yield path, dataset
        if isinstance(dataset.get('dataset'), dict):
            yield from walk(f'{path}.dataset', dataset['dataset'])
        for i, inner in enumerate(dataset.get('datasets') or ()):
            yield from walk(f'{path}.datasets.{i}', inner)

    for loader in DATALOADERS:
        if isinstance(cfg.get(loader), dict) and 'dataset' in cfg[loader]:
            yield from walk(f'{loader}.dataset', cfg[loader]['dataset'])


# Top-level keys that a config may set without its file (or its bases) naming them: the
# arguments of mmengine's runners, and the keys that mimlab itself reads.
_RUNNER_KEYS = frozenset(
    name for runner in (Runner, FlexibleRunner)
    for name in inspect.signature(runner.__init__).parameters if name != 'self') | {
        'runner_type', 'img_size', 'compile', 'custom_imports'}
# The pixel mean of the grey Fashion-MNIST data (configs/_base_/datasets/fashion_mnist_mae.py)
_GREY_MEAN = 72.94


def merge_options(cfg: Config, options: Optional[dict]) -> Config:
    """Merge ``--cfg-options`` into ``cfg`` (in place; returned), refusing a top-level key that
    neither the config nor mmengine's runner knows: mmengine would keep it and never read it
    (``optim_wraper.optimizer.lr=...`` would train at the config's lr). Keys inside a component
    are checked against its signature before building (``registry.check_config_types``).

    Raises:
        ConfigError: naming the option and the closest top-level keys.
    """
    if not options:
        return cfg
    known = set(cfg.keys()) | _RUNNER_KEYS
    for key in options:
        top = key.split('.')[0]
        if top not in known:
            matches = difflib.get_close_matches(top, sorted(known), n=3, cutoff=0.6)
            hint = (f'did you mean {" or ".join(matches)}?' if matches else
                    'a new top-level key would never be read')
            raise ConfigError(f'--cfg-options {key}: the config has no top-level key {top!r}; '
                              f'{hint}')
    cfg.merge_from_dict(options)
    return cfg


def set_data_root(cfg: Config, data_root: str) -> None:
    """Point every dataloader's dataset that reads a ``data_root`` at ``data_root``
    (``--data-root``: one flag for training, validation and test data)."""
    for _, dataset in _datasets(cfg):
        if 'data_root' in dataset:
            dataset['data_root'] = data_root


def check_data_roots(cfg: Config, loaders=DATALOADERS) -> None:
    """Refuse a dataset ``data_root`` that is not a folder, naming its full key path."""
    for path, dataset in _datasets(cfg):
        root = dataset.get('data_root')
        if path.split('.')[0] in loaders and isinstance(root, str) and not osp.isdir(root):
            raise ConfigError(f'{path}.data_root={root!r} is not a folder: point it at your data '
                              'with --data-root DIR (train, val and test data) or --cfg-options '
                              f'{path}.data_root=DIR')


def _image_folder_datasets(cfg: Config, loaders) -> Iterator[Tuple[str, dict]]:
    """(key path, config) of the ``ImageDataset``s of ``loaders`` whose data_root is a folder."""
    for path, dataset in _datasets(cfg):
        kind = dataset.get('type')
        root = dataset.get('data_root')
        if path.split('.')[0] in loaders and isinstance(kind, str) and \
                kind.split('.')[-1] == 'ImageDataset' and isinstance(root, str) and \
                osp.isdir(root):
            yield path, dataset


def check_num_classes(cfg: Config, loaders=DATALOADERS) -> None:
    """Refuse a classifier whose ``model.head.num_classes`` is not the number of classes of its
    data (the training split's class folders): labels beyond the head would crash a step, and
    a head wider than the data would classify into classes that do not exist."""
    head = (cfg.get('model') or {}).get('head')
    num_classes = head.get('num_classes') if isinstance(head, dict) else None
    if not isinstance(num_classes, int):
        return
    for path, dataset in _image_folder_datasets(cfg, loaders):
        try:
            classes = label_order(dataset['data_root'], dataset.get('split', 'train'),
                                  dataset.get('classes'))
        except FileNotFoundError:
            continue  # the dataset's own error names the missing split when it is built
        if classes is not None and len(classes) != num_classes:
            shown = ', '.join(classes[:8]) + (' ...' if len(classes) > 8 else '')
            raise ConfigError(
                f'model.head.num_classes={num_classes}, but {path}.data_root='
                f'{dataset["data_root"]!r} has {len(classes)} classes ({shown}): set '
                f'--cfg-options model.head.num_classes={len(classes)}')


def warn_grey_normalisation(cfg: Config, loaders=DATALOADERS) -> None:
    """One warning when a config normalises with the grey Fashion-MNIST statistics (the demo
    configs) but reads its images from files (photos, usually in colour), naming the key."""
    preprocessor = (cfg.get('model') or {}).get('data_preprocessor') or \
        cfg.get('data_preprocessor') or {}
    key = ('model.data_preprocessor' if (cfg.get('model') or {}).get('data_preprocessor')
           else 'data_preprocessor')
    mean = preprocessor.get('mean')
    if not (isinstance(mean, (list, tuple)) and mean and
            all(abs(m - _GREY_MEAN) < 0.01 for m in mean)):
        return
    for path, dataset in _image_folder_datasets(cfg, loaders):
        if find_idx(dataset['data_root'], dataset.get('split', 'train')) is None:
            print_log(
                f'{key}.mean={list(mean)} and .std are the grey Fashion-MNIST statistics, but '
                f'{path}.data_root={dataset["data_root"]!r} holds image files: for colour photos '
                f'set your data\'s (e.g. ImageNet\'s: --cfg-options {key}.mean=[123.675,116.28,'
                f'103.53] {key}.std=[58.395,57.12,57.375])', logger='current',
                level=logging.WARNING)
            return


def drop_persistent_workers(cfg: Config) -> None:
    """torch refuses ``persistent_workers=True`` with ``num_workers=0``: without workers there
    is nothing to keep alive, so drop the option."""
    for loader in DATALOADERS:
        dataloader = cfg.get(loader)
        if isinstance(dataloader, dict) and dataloader.get('persistent_workers') and \
                not dataloader.get('num_workers'):
            dataloader['persistent_workers'] = False


def _pipelines(cfg: Config) -> Iterator[Tuple[str, list]]:
    if isinstance(cfg.get('test_pipeline'), list):
        yield 'test_pipeline', cfg.test_pipeline
    for path, dataset in _datasets(cfg):
        if isinstance(dataset.get('pipeline'), list):
            yield f'{path}.pipeline', dataset['pipeline']


def _crops(steps, path: str) -> Iterator[Tuple[str, dict]]:
    """The crop transforms of a pipeline, those inside choices (``AugmentationChoice``) too."""
    for i, step in enumerate(steps):
        if not isinstance(step, dict):
            continue
        if step.get('type') in _CROPS:
            yield f'{path}.{i}', step
        for name, choice in (step.get('choices') or {}).items():
            if isinstance(choice, list):
                yield from _crops(choice, f'{path}.{i}.choices.{name}')


def apply_img_size(cfg: Config) -> None:
    """Make the data pipelines crop to the config's top-level ``img_size`` (the one key for the
    image size: ``--cfg-options img_size=112``), with the test pipelines' short-edge resize
    scaled along (256 for a 224 crop stays 8/7 of the crop); then refuse a model built for
    another size before the first step, naming both keys."""
    size = cfg.get('img_size')
    if size is None:
        return
    for path, pipeline in _pipelines(cfg):
        crops = list(_crops(pipeline, path))
        old = crops[0][1]['size'] if crops else None
        for _, step in crops:
            step['size'] = size
        for step in pipeline:
            if isinstance(step, dict) and step.get('type') == 'ResizeShortEdge' and \
                    isinstance(old, int) and isinstance(size, int) and old != size:
                step['size'] = round(step['size'] * size / old)
    model_size = (cfg.get('model') or {}).get('backbone', {}).get('img_size')
    if model_size is not None and model_size != size:
        raise ConfigError(
            f'img_size={size} (the size the data pipelines crop to) but '
            f'model.backbone.img_size={model_size}: the model would see images of another size; '
            f'set both, e.g. --cfg-options img_size={size} model.backbone.img_size={size}')


def convert_sync_bn(cfg: Config) -> List[str]:
    """On one process, replace SyncBN/MMSyncBN by BN in ``cfg.model`` (they need a process
    group: mmdet's heads use MMSyncBN, which cannot even be built without one) and log one
    line; returns the key paths changed."""
    changed = []

    def walk(node, path: str) -> None:
        if isinstance(node, dict):
            if node.get('type') in _SYNC_NORMS:
                node['type'] = 'BN'
                changed.append(path)
            for key, value in node.items():
                walk(value, f'{path}.{key}')
        elif isinstance(node, (list, tuple)):
            for i, value in enumerate(node):
                walk(value, f'{path}.{i}')

    walk(cfg.get('model'), 'model')
    if changed:
        print_log(f'one process: SyncBN/MMSyncBN -> BN at {", ".join(changed)} (they need a '
                  'process group)', logger='current', level=logging.INFO)
    return changed


def join_cpu_process_group(cfg: Config) -> None:
    """For ``launcher='pytorch'`` on processes without a GPU (a test of a multi-node launch, or
    a CPU cluster): mmengine's init_dist always picks a CUDA device, so join the gloo group here
    (mmengine then skips its own), and run DDP without device ids (mmengine would pass the local
    rank as one)."""
    if cfg.get('launcher') != 'pytorch' or torch.cuda.is_available():
        return
    if not torch.distributed.is_initialized():
        torch.distributed.init_process_group(backend='gloo')
    cfg.setdefault('model_wrapper_cfg', dict(type='MMDistributedDataParallel',
                                             device_ids=None, broadcast_buffers=False))
    if cfg.get('strategy', {}).get('type') == 'FSDPStrategy':
        cfg.strategy.setdefault('model_wrapper', {}).setdefault('device_id', torch.device('cpu'))


_left_a_group = False


def leave_process_group() -> None:
    """End of a tool's run: wait until every rank is done (rank 0 may still be writing its
    results), then destroy the process group if one was joined."""
    global _left_a_group
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()
        _left_a_group = True


def exit_after_process_group() -> None:
    """For a tool's ``__main__``, after its ``main()``: a process that left a process group
    flushes its logs and output and exits at once with status 0. The interpreter's usual exit
    runs C++ teardown that, in a rank of a 2-process gloo run on the CPU, now and then aborts
    after all the work is done ("terminate called without an active exception", no Python
    frame; about 1 run in 16 on a loaded 2-core machine), and the launcher then reports the
    whole run as failed."""
    if not _left_a_group:
        return
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
