"""Classification head on encoder tokens."""
from typing import Dict

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from timm.loss import SoftTargetCrossEntropy

from mimlab.registry import MODELS
from ..utils import EncoderSpec, LayerNorm6


@MODELS.register_module()
class LinearClsHead(BaseModule):
    """Pool the tokens (cls token or mean of the patch tokens), optionally normalise, then a
    linear classifier.

    Args:
        encoder_spec: the encoder's :class:`EncoderSpec` (filled in by the algorithm).
        num_classes: classes.
        pool: 'cls' or 'avg'.
        label_smoothing: cross-entropy label smoothing (hard labels only; mixup's soft targets
            carry their own smoothing).
        batch_norm: BatchNorm1d without affine parameters (eps 1e-6) before the linear layer:
            MAE's linear-probing head, which normalises the frozen features' scale.
        fc_norm: a fresh LayerNorm (eps 1e-6) on the pooled features: MAE's fine-tuning head
            (official ``models_vit.py`` with ``global_pool``, where the encoder has no final
            norm: build it with ``final_norm=False``).
        init_std: std of the truncated-normal init of the classifier's weights (MAE
            fine-tuning: 2e-5, official ``main_finetune.py``).
    """
    POOLS = ('cls', 'avg')

    def __init__(self, encoder_spec: EncoderSpec, num_classes: int, pool: str = 'cls',
                 label_smoothing: float = 0.0, batch_norm: bool = False, fc_norm: bool = False,
                 init_std: float = 0.02, init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        if pool not in self.POOLS:
            raise ValueError(f'head pool must be one of {self.POOLS}, got {pool!r}')
        self.pool = pool
        self.num_classes = num_classes
        self.num_prefix_tokens = encoder_spec.tokens.num_prefix_tokens
        self.label_smoothing = label_smoothing
        self.bn = (nn.BatchNorm1d(encoder_spec.tokens.embed_dim, affine=False, eps=1e-6)
                   if batch_norm else None)
        self.fc_norm = LayerNorm6(encoder_spec.tokens.embed_dim) if fc_norm else None
        self.fc = nn.Linear(encoder_spec.tokens.embed_dim, num_classes)
        nn.init.trunc_normal_(self.fc.weight, std=init_std)
        nn.init.zeros_(self.fc.bias)

    def pool_tokens(self, tokens: torch.Tensor) -> torch.Tensor:
        """(B, N, D) encoder tokens -> (B, D) one feature per image."""
        return tokens[:, 0] if self.pool == 'cls' else tokens[:, self.num_prefix_tokens:].mean(1)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """(B, N, D) -> (B, num_classes) logits."""
        pooled = self.pool_tokens(tokens)
        if self.fc_norm is not None:
            pooled = self.fc_norm(pooled)
        if self.bn is not None:
            pooled = self.bn(pooled)
        return self.fc(pooled)

    def loss(self, tokens: torch.Tensor, labels: torch.Tensor) -> Dict[str, torch.Tensor]:
        """``labels``: (B,) class indices, or (B, num_classes) soft targets (mixup/cutmix),
        which take timm's soft-target cross-entropy."""
        logits = self(tokens)
        if labels.ndim == 2:
            loss = SoftTargetCrossEntropy()(logits, labels)
            labels = labels.argmax(1)
        else:
            loss = F.cross_entropy(logits, labels, label_smoothing=self.label_smoothing)
        return dict(loss_cls=loss,
                    accuracy=(logits.argmax(1) == labels).float().mean().detach() * 100)
