"""A config made ready for this machine and this data, before anything is built.

Every tool that builds from a config (train, test, the feature, probe and picture tools) calls
:func:`prepare_config`, so that a config that cannot work fails here, in one line naming the
key, instead of deep inside a run.
"""
import logging
import os.path as osp
from typing import Iterator, List, Optional, Tuple

import torch

from mmengine.config import Config
from mmengine.logging import print_log

from mimlab.engine.errors import ConfigError

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


def prepare_config(cfg: Config, data_root: Optional[str] = None, distributed: bool = False,
                   loaders=DATALOADERS) -> Config:
    """``cfg`` (changed in place and returned) ready to build: ``data_root`` applied to every
    dataset, the image size applied and checked against the model, ``persistent_workers``
    dropped without workers, SyncBN converted on one process, and the data folders of the
    dataloaders in ``loaders`` checked.

    Raises:
        ConfigError: naming the key that cannot work.
    """
    if data_root is not None:
        set_data_root(cfg, data_root)
    apply_img_size(cfg)
    drop_persistent_workers(cfg)
    if not distributed:
        convert_sync_bn(cfg)
    check_data_roots(cfg, loaders)
    return cfg
