"""Metrics for ``tools/test.py``."""
from typing import Dict, List, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric

from mimlab.registry import METRICS


@METRICS.register_module()
class ReconstructionLoss(BaseMetric):
    """Mean of the per-image reconstruction loss that a pretraining model's ``predict`` returns
    (``loss_rec`` on the removed patches), over the test set."""
    default_prefix = 'heldout'

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        self.results.extend(float(s['loss_rec']) for s in data_samples)

    def compute_metrics(self, results: List[float]) -> Dict[str, float]:
        return dict(loss_rec=float(np.mean(results)), num_images=len(results))


@METRICS.register_module()
class Accuracy(BaseMetric):
    """Top-1 accuracy (%) of ``pred_label`` against ``gt_label``."""

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        self.results.extend(int(s['pred_label'] == s['gt_label']) for s in data_samples)

    def compute_metrics(self, results: List[int]) -> Dict[str, float]:
        return dict(top1=100.0 * float(np.mean(results)), num_images=len(results))
