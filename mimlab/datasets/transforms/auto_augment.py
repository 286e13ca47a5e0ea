"""RandAugment (Cubuk et al. 2020) for fine-tuning: timm's implementation on uint8 arrays."""
from typing import Optional

import numpy as np
from mmcv.transforms import BaseTransform
from PIL import Image, ImageOps

from mimlab.registry import TRANSFORMS


@TRANSFORMS.register_module()
class RandAugment(BaseTransform):
    """timm's ``rand_augment_transform`` on ``results['img']`` (H, W, 3) uint8.

    Args:
        policy: timm's config string, e.g. 'rand-m9-mstd0.5-inc1' (MAE / DeiT fine-tuning:
            magnitude 9, magnitude noise std 0.5, magnitude-increasing ops).
        hparams: timm's hparams (e.g. ``img_mean`` as a 0-255 RGB fill for the geometric ops,
            ``translate_pct``); timm's defaults otherwise.
    """

    def __init__(self, policy: str = 'rand-m9-mstd0.5-inc1',
                 hparams: Optional[dict] = None) -> None:
        from timm.data.auto_augment import rand_augment_transform
        if not policy.startswith('rand'):
            raise ValueError(f"RandAugment policy must be a timm 'rand-...' string, got {policy!r}")
        self.policy = policy
        self.augment = rand_augment_transform(policy, dict(hparams or {}))
        for op in self.augment.ops:
            if op.name.startswith('Posterize'):
                op.aug_fn = _posterize

    def transform(self, results: dict) -> dict:
        img = Image.fromarray(results['img'])
        results['img'] = np.asarray(self.augment(img), dtype=np.uint8)
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(policy={self.policy!r})'


def _posterize(img: Image.Image, bits_to_keep: int, **_) -> Image.Image:
    """timm's posterize, also for 0 bits (all black), which PosterizeIncreasing asks for at
    magnitude 10 (m9 + noise reaches it) and which Pillow 13 refuses with a ValueError."""
    if bits_to_keep >= 8:
        return img
    if bits_to_keep <= 0:
        return Image.new(img.mode, img.size)
    return ImageOps.posterize(img, bits_to_keep)
