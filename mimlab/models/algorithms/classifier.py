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
        return self.output_tokens(self.backbone.encode(inputs, hidden_layers=self.hidden_layers))

    @staticmethod
    def labels(data_samples: Optional[list]) -> torch.Tensor:
        if not data_samples or 'gt_label' not in data_samples[0]:
            raise ValueError('ImageClassifier needs data samples with gt_label (a dataset with '
                             'class labels)')
        return torch.stack([s.gt_label for s in data_samples])

    def loss(self, inputs: torch.Tensor,
             data_samples: Optional[list] = None) -> Dict[str, torch.Tensor]:
        losses = self.head.loss(self.tokens(inputs), self.labels(data_samples).to(inputs.device))
        return dict(losses, **self.fusion_weight_logs())

    def predict(self, inputs: torch.Tensor, data_samples: Optional[list] = None) -> List[dict]:
        pred = self.head(self.tokens(inputs)).argmax(1)
        labels = self.labels(data_samples)
        return [dict(pred_label=int(p), gt_label=int(g)) for p, g in zip(pred, labels)]
