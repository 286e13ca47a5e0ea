"""Photometric augmentation and the named augmentation choices of MAE's ablation (He et al.
2021, Table 1e: none / crop / crop + colour jitter)."""
from typing import Dict, Sequence

import mmcv
import numpy as np
from mmcv.transforms import BaseTransform
from mmengine.dataset import Compose

from mimlab.registry import TRANSFORMS


@TRANSFORMS.register_module()
class ColorJitter(BaseTransform):
    """Random brightness, contrast and saturation, applied in that order to an HxWx3 uint8
    image (through ``mmcv.adjust_brightness`` / ``adjust_contrast`` / ``adjust_color``). Each
    factor is drawn uniformly from [max(0, 1 - s), 1 + s] for strength s (0: left alone), as
    torchvision's ``ColorJitter``. On grey images (three equal channels) saturation does nothing,
    so brightness and contrast are the jitter.
    """

    def __init__(self, brightness: float = 0.4, contrast: float = 0.4,
                 saturation: float = 0.0) -> None:
        strengths = dict(brightness=brightness, contrast=contrast, saturation=saturation)
        bad = {k: v for k, v in strengths.items() if v < 0}
        if bad:
            raise ValueError(f'ColorJitter strengths must be >= 0, got {bad}')
        self.strengths = strengths

    @staticmethod
    def _factor(strength: float) -> float:
        return float(np.random.uniform(max(0.0, 1 - strength), 1 + strength))

    def transform(self, results: dict) -> dict:
        img = results['img']
        if img.ndim != 3 or img.shape[2] != 3:
            raise ValueError(f'ColorJitter needs an HxWx3 image, got shape {img.shape} '
                             f'({results.get("img_path", "in-memory sample")})')
        ops = dict(brightness=mmcv.adjust_brightness, contrast=mmcv.adjust_contrast,
                   saturation=mmcv.adjust_color)
        for name, op in ops.items():
            if self.strengths[name] > 0:
                img = op(img, self._factor(self.strengths[name]), backend='cv2')
        results['img'] = img
        return results

    def __repr__(self) -> str:
        args = ', '.join(f'{k}={v}' for k, v in self.strengths.items())
        return f'{self.__class__.__name__}({args})'


@TRANSFORMS.register_module()
class AugmentationChoice(BaseTransform):
    """One of several named augmentation pipelines, chosen by a config key, so an ablation over
    augmentations is one override
    (``train_dataloader.dataset.pipeline.1.choice=crop_jitter``).

    Args:
        choice: the name of the pipeline to apply.
        choices: {name: list of transform configs}; an empty list applies nothing.
    """

    def __init__(self, choice: str, choices: Dict[str, Sequence[dict]]) -> None:
        if choice not in choices:
            raise KeyError(f'AugmentationChoice choice={choice!r} is not one of '
                           f'{sorted(choices)}')
        self.choice = choice
        self.pipeline = Compose(list(choices[choice]))

    def transform(self, results: dict) -> dict:
        return self.pipeline(results)

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(choice={self.choice!r}, {self.pipeline.transforms})'
