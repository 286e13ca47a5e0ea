"""Classification head on encoder tokens."""
from typing import Dict

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule

from mimlab.registry import MODELS
from ..utils import EncoderSpec


@MODELS.register_module()
class LinearClsHead(BaseModule):
    """Pool the tokens (cls token or mean of the patch tokens), then a linear classifier.

    Args:
        encoder_spec: the encoder's :class:`EncoderSpec` (filled in by the algorithm).
        num_classes: classes.
        pool: 'cls' or 'avg'.
        label_smoothing: cross-entropy label smoothing.
    """

    def __init__(self, encoder_spec: EncoderSpec, num_classes: int, pool: str = 'cls',
                 label_smoothing: float = 0.0, init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        if pool not in ('cls', 'avg'):
            raise ValueError(f"head pool must be 'cls' or 'avg', got {pool!r}")
        self.pool = pool
        self.num_prefix_tokens = encoder_spec.num_prefix_tokens
        self.label_smoothing = label_smoothing
        self.fc = nn.Linear(encoder_spec.embed_dim, num_classes)
        nn.init.trunc_normal_(self.fc.weight, std=0.02)
        nn.init.zeros_(self.fc.bias)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """(B, N, D) -> (B, num_classes) logits."""
        pooled = tokens[:, 0] if self.pool == 'cls' else tokens[:, self.num_prefix_tokens:].mean(1)
        return self.fc(pooled)

    def loss(self, tokens: torch.Tensor, labels: torch.Tensor) -> Dict[str, torch.Tensor]:
        logits = self(tokens)
        return dict(loss_cls=F.cross_entropy(logits, labels,
                                             label_smoothing=self.label_smoothing),
                    accuracy=(logits.argmax(1) == labels).float().mean().detach() * 100)
