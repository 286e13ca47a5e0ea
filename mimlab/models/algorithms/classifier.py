"""Supervised image classification with the same encoder (and optionally the MFF fusion neck)."""
from typing import Dict, List, Optional

import torch

from mimlab.registry import MODELS
from .base import BaseAlgorithm


@MODELS.register_module()
class ImageClassifier(BaseAlgorithm):
    """Encoder (all patches) -> optional ``fusion_neck`` -> final norm -> ``head``
    (:class:`LinearClsHead`). With a fusion neck, its weights are logged as in MFF pretraining,
    which gives the paper's feature-bias comparison (fusion weights of MAE vs supervised)."""

    def tokens(self, inputs: torch.Tensor) -> torch.Tensor:
        if self.fusion_neck is None:
            return self.backbone.encode(inputs).tokens
        out = self.backbone.encode(inputs, hidden_layers=self.fusion_neck.hidden_layers)
        return self.backbone.norm(self.fusion_neck(out.hidden_states))

    @staticmethod
    def labels(data_samples: Optional[list]) -> torch.Tensor:
        if not data_samples or 'gt_label' not in data_samples[0]:
            raise ValueError('ImageClassifier needs data samples with gt_label (a dataset with '
                             'class labels)')
        return torch.stack([s.gt_label for s in data_samples])

    def loss(self, inputs: torch.Tensor,
             data_samples: Optional[list] = None) -> Dict[str, torch.Tensor]:
        losses = self.head.loss(self.tokens(inputs), self.labels(data_samples).to(inputs.device))
        weights = self.fusion_neck.fusion_weights() if self.fusion_neck is not None else None
        if weights is not None:
            for block, w in zip(self.fusion_neck.hidden_layers, weights.detach()):
                losses[f'fusion_w_b{block}'] = w
        return losses

    def predict(self, inputs: torch.Tensor, data_samples: Optional[list] = None) -> List[dict]:
        pred = self.head(self.tokens(inputs)).argmax(1)
        labels = self.labels(data_samples)
        return [dict(pred_label=int(p), gt_label=int(g)) for p, g in zip(pred, labels)]
