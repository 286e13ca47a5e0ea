"""Build a model from a config and checkpoint, and reconstruct images with it."""
import copy
from typing import List, Optional, Sequence, Union

import torch
from mmengine.config import Config
from mmengine.dataset import Compose, pseudo_collate
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint

from mimlab.registry import MODELS


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
