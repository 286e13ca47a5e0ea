"""Metrics for ``tools/test.py``."""
from typing import Dict, List, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric

from mimlab.registry import METRICS


@METRICS.register_module()
class ReconstructionLoss(BaseMetric):
    """Mean of the per-image reconstruction loss that a pretraining model's ``predict`` returns
    (``loss_rec`` on the removed patches), over the test set; every other number that ``predict``
    gives each image (DDeP's ``eps_mse``, ``eps_sq``) is averaged too, under its own name."""
    default_prefix = 'heldout'

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        self.results.extend({key: float(value) for key, value in s.items()
                             if isinstance(value, (int, float))} for s in data_samples)

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        metrics = dict(loss_rec=float(np.mean([r['loss_rec'] for r in results])))
        for key in results[0]:
            if key != 'loss_rec':
                metrics[key] = float(np.mean([r[key] for r in results]))
        return dict(metrics, num_images=len(results))


@METRICS.register_module()
class Accuracy(BaseMetric):
    """Top-1 accuracy (%) of ``pred_label`` against ``gt_label``."""

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        self.results.extend(int(s['pred_label'] == s['gt_label']) for s in data_samples)

    def compute_metrics(self, results: List[int]) -> Dict[str, float]:
        return dict(top1=100.0 * float(np.mean(results)), num_images=len(results))
