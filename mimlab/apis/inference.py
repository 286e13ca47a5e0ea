"""Build a model from a config and checkpoint, and reconstruct images with it."""
import copy
import os
import os.path as osp
from typing import List, Optional, Sequence, Tuple, Union

import torch
from mmengine.config import Config
from mmengine.dataset import Compose, pseudo_collate
from mmengine.registry import init_default_scope

from mimlab.datasets.builder import build_split_dataset, collate_present, sample_indices
from mimlab.datasets.image_dataset import IMG_EXTENSIONS
from mimlab.engine.checkpoint import install_checkpoint_loader
from mimlab.engine.config_checks import merge_options
from mimlab.models.utils.state_dict import load_whole_model
from mimlab.registry import MODELS
from .prepare import prepare_config


def init_model(config: Union[str, Config], checkpoint: Optional[str] = None,
               device: str = 'cpu') -> torch.nn.Module:
    """Build the config's model, load ``checkpoint`` and put it in eval mode on ``device``.

    The load is weights-only (:func:`~mimlab.engine.checkpoint.install_checkpoint_loader`, which
    this installs: a runner-less script has no hook to do it)."""
    cfg = Config.fromfile(config) if isinstance(config, str) else config
    init_default_scope(cfg.get('default_scope', 'mimlab'))
    model_cfg = copy.deepcopy(cfg.model)
    if cfg.get('data_preprocessor') is not None:
        model_cfg.setdefault('data_preprocessor', cfg.data_preprocessor)
    model = MODELS.build(model_cfg)
    if checkpoint is not None:
        install_checkpoint_loader()
        load_whole_model(model, checkpoint)  # refuses another model's checkpoint
    model.cfg = cfg
    return model.to(device).eval()


def prepare_batch(model: torch.nn.Module, samples: Sequence[dict], pipeline: Sequence[dict]):
    """Run ``pipeline`` over samples (dicts with ``img_path`` or ``img``) and the model's data
    preprocessor over the batch; returns the normalised (B, C, H, W) inputs."""
    transform = Compose(list(pipeline))
    batch = pseudo_collate([transform(dict(s)) for s in samples])
    return model.data_preprocessor(batch, training=False)['inputs']


@torch.no_grad()
def reconstruct(model: torch.nn.Module, inputs: torch.Tensor, seed: int = 0):
    """Reconstruct normalised inputs with a mask drawn from ``seed`` (the same seed gives the
    same mask, so pictures compare across checkpoints)."""
    generator = torch.Generator().manual_seed(seed)
    return model.reconstruct(inputs, generator=generator)


def load_config(path: str, options: Optional[dict] = None, data_root: Optional[str] = None
                ) -> Config:
    """A config file with ``--cfg-options`` style overrides merged in and ``data_root``
    (``--data-root``) applied, made ready by :func:`~mimlab.apis.prepare.prepare_config` (the
    data folder is checked when a split is read: :func:`build_split_dataset`)."""
    cfg = merge_options(Config.fromfile(path), options)
    return prepare_config(cfg, data_root=data_root, loaders=())


def heldout_batch(model: torch.nn.Module, cfg: Config, split: str = 'test',
                  num_images: int = 64) -> torch.Tensor:
    """``num_images`` evenly spaced images of ``split``, normalised by the model's preprocessor."""
    dataset = build_split_dataset(cfg, split)
    batch = collate_present([dataset[i] for i in sample_indices(len(dataset), num_images)])
    return model.data_preprocessor(batch, training=False)['inputs']


def pick_samples(cfg: Config, images: Sequence[str], split: Optional[str],
                 num_images: int) -> Tuple[List[dict], List[str]]:
    """The samples a picture tool draws and their row titles: ``num_images`` evenly spaced
    images of the config dataset's ``split``, or (``split`` None) the image files of ``images``
    (files, or folders read in name order).

    Raises:
        SystemExit: a path that does not exist, or no image found (one line for the tool).
    """
    if split:
        dataset = build_split_dataset(cfg, split, pipeline=[])
        indices = sample_indices(len(dataset), num_images)
        return ([dataset.get_data_info(i) for i in indices], [f'{split} #{i}' for i in indices])
    files = []
    for path in images:
        if osp.isdir(path):
            files += sorted(osp.join(path, f) for f in os.listdir(path)
                            if f.lower().endswith(IMG_EXTENSIONS))
        elif osp.isfile(path):
            files.append(path)
        else:
            raise SystemExit(f'image {path} does not exist')
    if not files:
        raise SystemExit(f'no images found in {images}')
    return [dict(img_path=f) for f in files], [osp.basename(f) for f in files]
