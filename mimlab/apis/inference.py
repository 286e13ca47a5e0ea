"""Build a model from a config and checkpoint, and reconstruct images with it."""
import copy
from typing import List, Optional, Sequence, Union

import torch
from mmengine.config import Config
from mmengine.dataset import Compose, pseudo_collate
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint

from mimlab.registry import DATASETS, MODELS


def init_model(config: Union[str, Config], checkpoint: Optional[str] = None,
               device: str = 'cpu') -> torch.nn.Module:
    """Build the config's model, load ``checkpoint`` (safely: see mimlab.engine.checkpoint) and
    put it in eval mode on ``device``."""
    cfg = Config.fromfile(config) if isinstance(config, str) else config
    init_default_scope(cfg.get('default_scope', 'mimlab'))
    model_cfg = copy.deepcopy(cfg.model)
    if cfg.get('data_preprocessor') is not None:
        model_cfg.setdefault('data_preprocessor', cfg.data_preprocessor)
    model = MODELS.build(model_cfg)
    if checkpoint is not None:
        load_checkpoint(model, checkpoint, map_location='cpu', strict=True)
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


def sample_indices(length: int, count: int) -> List[int]:
    """``count`` indices spread evenly over a dataset of ``length`` (deterministic)."""
    count = min(count, length)
    return [int(i * length / count) for i in range(count)]


def load_config(path: str, options: Optional[dict] = None) -> Config:
    """A config file with ``--cfg-options`` style overrides merged in."""
    cfg = Config.fromfile(path)
    if options:
        cfg.merge_from_dict(options)
    return cfg


def build_split_dataset(cfg: Config, split: str, pipeline: Optional[Sequence[dict]] = None,
                        indices: Optional[int] = None):
    """The config's training dataset, read from another ``split`` through ``pipeline``
    (default: the config's ``test_pipeline``, a deterministic view); ``indices`` keeps the
    first N images."""
    if pipeline is None:
        if 'test_pipeline' not in cfg:
            raise KeyError('the config defines no test_pipeline to read held-out images with')
        pipeline = cfg.test_pipeline
    dataset_cfg = copy.deepcopy(cfg.train_dataloader.dataset)
    dataset_cfg.update(split=split, pipeline=list(pipeline))
    if indices is not None:
        dataset_cfg['indices'] = indices
    return DATASETS.build(dataset_cfg)


def heldout_batch(model: torch.nn.Module, cfg: Config, split: str = 'test',
                  num_images: int = 64) -> torch.Tensor:
    """``num_images`` evenly spaced images of ``split``, normalised by the model's preprocessor."""
    dataset = build_split_dataset(cfg, split)
    batch = pseudo_collate([dataset[i] for i in sample_indices(len(dataset), num_images)])
    return model.data_preprocessor(batch, training=False)['inputs']
