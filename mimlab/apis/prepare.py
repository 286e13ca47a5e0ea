"""A config made ready for this machine and this data, before anything is built.

Every tool that builds from a config (train, test, the feature, probe and picture tools) calls
:func:`prepare_config`, so that a config that cannot work fails here, in one line naming the
key, instead of deep inside a run. The checks are :mod:`mimlab.engine.config_checks`.
"""
from typing import Optional

from mmengine.config import Config

from mimlab.engine.config_checks import (DATALOADERS, apply_img_size, check_data_roots,
                                         check_num_classes, convert_sync_bn,
                                         drop_persistent_workers, set_data_root,
                                         warn_grey_normalisation)


def prepare_config(cfg: Config, data_root: Optional[str] = None, distributed: bool = False,
                   loaders=DATALOADERS) -> Config:
    """``cfg`` (changed in place and returned) ready to build: ``data_root`` applied to every
    dataset, the image size applied and checked against the model, ``persistent_workers``
    dropped without workers, SyncBN converted on one process, and the data folders of the
    dataloaders in ``loaders`` checked (that they exist, that a classifier's head has as many
    classes as the data, and a warning for grey normalisation statistics on image files).

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
    check_num_classes(cfg, loaders)
    warn_grey_normalisation(cfg, loaders)
    return cfg
