import itertools
import os.path as osp
import sys
from importlib import import_module

import pytest
import torch
from mmengine.registry import init_default_scope

from mimlab.engine.checkpoint import install_checkpoint_loader

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
FASHION_MNIST = '/usr/share/datasets/fashion-mnist'
DEMO_CONFIG = osp.join(REPO, 'configs/mae/mae_vit-tiny-p4_1xb256-coslr-6e_fashion-mnist.py')

# One thread: the tiny models gain nothing from more, and on cores shared with other work
# OpenMP's waits made in-process training tests up to 8x slower.
torch.set_num_threads(1)
# The tests build models and runners from configs without mimlab's runtime (and call
# init_weights outside runners): like a runner-less script, the test process installs the safe
# loader itself. test_checkpoint_install.py checks, in fresh processes, where mimlab installs it.
install_checkpoint_loader()


@pytest.fixture(autouse=True)
def _mimlab_scope():
    init_default_scope('mimlab')


def tiny_mae_cfg(mask_ratio: float = 0.75, norm_pix: bool = True, img_size: int = 16,
                 patch_size: int = 4) -> dict:
    return dict(
        type='MAE',
        backbone=dict(type='MaskedViT', arch=dict(embed_dim=32, depth=2, num_heads=2),
                      img_size=img_size, patch_size=patch_size, mask_ratio=mask_ratio),
        neck=dict(type='MAEPretrainDecoder', embed_dim=16, depth=1, num_heads=2),
        head=dict(type='PixelReconstructionHead', norm_pix=norm_pix),
        data_preprocessor=dict(type='ImgDataPreprocessor', mean=[0.0] * 3, std=[1.0] * 3))


# Tiny-run overrides of the demo config (4 iterations of 16 images per epoch).
TINY_RUN = {
    'model.backbone.arch.embed_dim': 32, 'model.backbone.arch.depth': 2,
    'model.backbone.arch.num_heads': 2, 'model.neck.embed_dim': 16, 'model.neck.depth': 1,
    'model.neck.num_heads': 2, 'train_dataloader.batch_size': 16,
    'train_dataloader.num_workers': 0, 'train_dataloader.persistent_workers': False,
    'train_dataloader.dataset.indices': 64, 'default_hooks.logger.interval': 1,
    'custom_hooks.0.interval': 4, 'custom_hooks.0.num_images': 2,
    'test_dataloader.dataset.indices': 40, 'test_dataloader.batch_size': 16,
    'test_dataloader.num_workers': 0,
}
TINY_RUN_OPTIONS = [f'{k}={v}' for k, v in TINY_RUN.items()]
_RUN_IDS = itertools.count()


def tiny_run_cfg(work_dir, max_epochs: int):
    from mmengine.config import Config
    cfg = Config.fromfile(DEMO_CONFIG)
    cfg.merge_from_dict(dict(TINY_RUN, **{'train_cfg.max_epochs': max_epochs}))
    cfg.work_dir = str(work_dir)
    # mmengine names its logger after the experiment (config name + time to the second): two
    # runners started in one second would share a logger, and so a log file
    cfg.experiment_name = f'tiny_{next(_RUN_IDS)}'
    return cfg


def import_tool(name: str, folder: str = 'tools'):
    """A script under ``tools/`` as a module, to call its ``main(argv)`` in this process."""
    sys.path.insert(0, osp.join(REPO, folder))
    try:
        return import_module(name)
    finally:
        sys.path.pop(0)


class WritesAFile:
    """Unpickling this calls open(path, 'w'): a stand-in for a checkpoint that runs code."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, 'w'))
