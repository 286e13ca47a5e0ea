"""Training a discrete VAE tokenizer (DALL-E's recipe: Gumbel-softmax, annealed temperature,
KL to the uniform prior)."""
import math
from typing import Dict, List, Optional

import torch
import torch.nn.functional as F
from mimlab.registry import MODELS
from .base import BaseAlgorithm


@MODELS.register_module()
class DVAEPretrain(BaseAlgorithm):
    """Train a tokenizer (e.g. :class:`DiscreteVAE`) with ``tools/train.py``.

    Loss: ``loss_rec``, the MSE of the Gumbel-softmax reconstruction in [0, 1] pixels, plus
    ``loss_kl``, ``kl_weight`` x KL(q || uniform) per token position. The temperature falls as
    ``max(temperature_min, temperature * exp(-anneal_rate * step))`` over training steps (the
    step count is a buffer, so it resumes with the checkpoint) and is logged as ``temperature``.
    The tokenizer's weights are the checkpoint's ``tokenizer.`` keys: a CAE head loads them with
    ``init_cfg=dict(type='Pretrained', checkpoint=..., prefix='tokenizer.')``.

    Args:
        tokenizer: config of the tokenizer.
        kl_weight: weight of the KL term (DALL-E's beta, relative to the per-pixel MSE).
        temperature, temperature_min, anneal_rate: the Gumbel-softmax temperature schedule.
    """

    def __init__(self, tokenizer: dict, kl_weight: float = 1e-3, temperature: float = 1.0,
                 temperature_min: float = 1 / 16, anneal_rate: float = 1e-4,
                 data_preprocessor: Optional[dict] = None, init_cfg=None) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if not 0 < temperature_min <= temperature:
            raise ValueError('temperature_min must lie in (0, temperature], got '
                             f'{temperature_min} and {temperature}')
        self.tokenizer = MODELS.build(tokenizer)
        self.kl_weight = kl_weight
        self.temperature = temperature
        self.temperature_min = temperature_min
        self.anneal_rate = anneal_rate
        self.register_buffer('step', torch.zeros((), dtype=torch.long))

    def current_temperature(self) -> float:
        decayed = self.temperature * math.exp(-self.anneal_rate * int(self.step))
        return max(self.temperature_min, decayed)

    def to_unit_range(self, inputs: torch.Tensor) -> torch.Tensor:
        """Normalised inputs -> [0, 1] pixels (the data preprocessor's mean and std undone)."""
        return (self.pixel_normalisation.to_pixels(inputs) / 255.0).clamp(0.0, 1.0)

    def extract_feat(self, inputs: torch.Tensor) -> torch.Tensor:
        """The tokenizer's ids of the whole image."""
        return self.tokenizer.encode(self.to_unit_range(inputs))

    def loss(self, inputs: torch.Tensor,
             data_samples: Optional[list] = None) -> Dict[str, torch.Tensor]:
        pixels = self.to_unit_range(inputs)
        temperature = self.current_temperature()
        recon, logits = self.tokenizer.relaxed_forward(pixels, temperature)
        log_q = F.log_softmax(logits.float(), dim=1)
        kl = (log_q.exp() * log_q).sum(dim=1).mean() + math.log(logits.shape[1])
        if self.training:
            self.step += 1
        return dict(loss_rec=F.mse_loss(recon.float(), pixels),
                    loss_kl=self.kl_weight * kl,
                    temperature=torch.tensor(temperature))

    @torch.no_grad()
    def reconstruct(self, inputs: torch.Tensor) -> torch.Tensor:
        """Tokenize and decode: (B, C, H, W) normalised inputs -> [0, 1] pixels."""
        pixels = self.to_unit_range(inputs)
        return self.tokenizer.decode(self.tokenizer.encode(pixels))

    def predict(self, inputs: torch.Tensor, data_samples: Optional[list] = None) -> List[dict]:
        """Per-image MSE of the tokenized round trip (for ``tools/test.py``)."""
        error = (self.reconstruct(inputs) - self.to_unit_range(inputs)).pow(2)
        return [dict(loss_rec=float(v)) for v in error.flatten(1).mean(dim=1)]
