"""Common corruptions (Hendrycks & Dietterich 2019, ImageNet-C) through the ``imagecorruptions``
package, for robustness evaluation.

imagecorruptions 1.1.2 (its last release, 2020) breaks on today's stack in two places, both
adapted here without touching the installed package:

- glass_blur (and the extra gaussian_blur, spatter) call ``skimage.filters.gaussian(...,
  multichannel=True)``, an argument scikit-image removed in 0.19 (now ``channel_axis=-1``);
- fog's ``plasma_fractal`` uses ``np.float_``, removed in NumPy 2.0.

The package's module gets a ``gaussian`` that maps the old argument to the new one and a numpy
namespace that still has ``float_``; nothing outside that module changes. It also refuses images
under 32 px: see :func:`corrupt_image`.
"""
import functools
import types

import cv2
import numpy as np
from mmcv.transforms import BaseTransform

from mimlab.registry import TRANSFORMS

# imagecorruptions refuses images smaller than this (its frost, fog and zoom code assume it)
MIN_CORRUPTION_SIZE = 32


class _NumpyWithFloat_(types.ModuleType):
    """numpy as imagecorruptions' module sees it: with NumPy 1's ``float_`` alias."""
    float_ = np.float64

    def __getattr__(self, name):
        return getattr(np, name)


@functools.lru_cache(maxsize=None)
def _imagecorruptions():
    """The package, imported lazily (only robustness evaluation needs it) and adapted once."""
    try:
        import imagecorruptions
        from imagecorruptions import corruptions
    except ImportError as err:
        raise ImportError('robustness evaluation needs the imagecorruptions package: pip install '
                          'imagecorruptions==1.1.2 (see requirements/downstream.txt)') from err
    from skimage.filters import gaussian

    def gaussian_compat(image, *args, multichannel=None, **kwargs):
        if multichannel:
            kwargs['channel_axis'] = -1
        return gaussian(image, *args, **kwargs)

    corruptions.gaussian = gaussian_compat
    corruptions.np = _NumpyWithFloat_('numpy')
    return imagecorruptions


def corruption_names() -> tuple:
    """The 15 ImageNet-C corruptions, in imagecorruptions' order."""
    return tuple(_imagecorruptions().get_corruption_names('common'))


def corrupt_image(img: np.ndarray, corruption: str, severity: int) -> np.ndarray:
    """``img`` (H, W, 3) uint8 corrupted by ``corruption`` at ``severity`` (1-5), same shape and
    dtype. Draws from numpy's global random state (seed it for repeatable results).

    Images smaller than 32 px (Fashion-MNIST's 28) are resized up to 32 (bicubic), corrupted
    and resized back, since the package refuses smaller ones; the corruption then acts at the
    32-px scale.
    """
    corrupt = _imagecorruptions().corrupt
    if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
        raise ValueError(f'corrupt_image needs an (H, W, 3) uint8 image, got {img.shape} '
                         f'{img.dtype}')
    h, w = img.shape[:2]
    scale = MIN_CORRUPTION_SIZE / min(h, w)
    small = scale > 1
    if small:
        size = [max(MIN_CORRUPTION_SIZE, round(side * scale)) for side in (w, h)]
        img = cv2.resize(img, size, interpolation=cv2.INTER_CUBIC)
    out = corrupt(img, corruption_name=corruption, severity=severity)  # uint8, same shape
    if small:
        out = cv2.resize(out, (w, h), interpolation=cv2.INTER_AREA)
    return out


@TRANSFORMS.register_module()
class ImageCorruption(BaseTransform):
    """Corrupt ``results['img']`` with one of the 15 common corruptions at ``severity`` 1-5 (see
    :func:`corrupt_image`). Put it at the end of a test pipeline, before ``PackInputs``, so that
    it acts on the image the model sees (as ImageNet-C corrupts the 224-px centre crop)."""

    def __init__(self, corruption: str, severity: int) -> None:
        names = corruption_names()
        if corruption not in names:
            raise ValueError(f'ImageCorruption: unknown corruption {corruption!r}; one of '
                             f'{", ".join(names)}')
        if severity not in range(1, 6):
            raise ValueError(f'ImageCorruption severity must be 1..5, got {severity!r}')
        self.corruption = corruption
        self.severity = severity

    def transform(self, results: dict) -> dict:
        results['img'] = corrupt_image(results['img'], self.corruption, self.severity)
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}({self.corruption!r}, severity={self.severity})'
