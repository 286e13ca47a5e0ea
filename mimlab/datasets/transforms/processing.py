"""Geometric transforms on HxWxC uint8 arrays, values kept uint8.

Resizing goes through PIL, as the references' torchvision transforms on PIL images do: PIL widens
its filter by the scale factor when it shrinks an image (antialiasing), where cv2's bilinear and
bicubic sample the source without it and fold the frequencies above the new Nyquist limit back
into the picture (the PixMIM and MFF targets are about frequency content).
"""
import math
from typing import Sequence, Tuple, Union

import mmcv
import numpy as np
from mmcv.transforms import BaseTransform
from PIL import Image

from mimlab.registry import TRANSFORMS
from .loading import BadImageError, decode_crop_bgr, ensure_decoded


def _size_hw(size: Union[int, Sequence[int]]) -> Tuple[int, int]:
    return (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))


PIL_FILTERS = {'nearest': Image.NEAREST, 'bilinear': Image.BILINEAR, 'bicubic': Image.BICUBIC,
               'lanczos': Image.LANCZOS, 'box': Image.BOX, 'hamming': Image.HAMMING}


def _check_interpolation(interpolation: str, owner: str) -> str:
    if interpolation not in PIL_FILTERS:
        raise ValueError(f'{owner} interpolation must be one of {sorted(PIL_FILTERS)}, got '
                         f'{interpolation!r}')
    return interpolation


def pil_resize(img: np.ndarray, size_wh: Tuple[int, int], interpolation: str) -> np.ndarray:
    """``img`` (H, W[, C]) uint8 resized to (w, h) by PIL's ``Image.resize`` with its
    antialiasing filter, channel by channel (a writable copy); the channel order is kept."""
    if img.dtype != np.uint8:
        raise TypeError(f'resize expects a uint8 image, got {img.dtype}')
    flat = img.ndim == 2
    planes = img[..., None] if flat else img
    if planes.shape[2] == 3:
        out = np.array(Image.fromarray(np.ascontiguousarray(planes)).resize(
            size_wh, PIL_FILTERS[interpolation]))
    else:  # (H, W) uint8 arrays are PIL's 'L' images
        out = np.stack([np.array(Image.fromarray(np.ascontiguousarray(planes[..., c]))
                                   .resize(size_wh, PIL_FILTERS[interpolation]))
                        for c in range(planes.shape[2])], axis=-1)
    return out[..., 0] if flat else out


@TRANSFORMS.register_module()
class RandomResizedCrop(BaseTransform):
    """Crop a random area and aspect ratio, then resize to ``size`` (Inception-style, as
    torchvision's ``RandomResizedCrop``; MAE uses scale (0.2, 1.0), bicubic).

    Args:
        size: output (h, w) or one int.
        scale: range of the crop's area as a fraction of the image's.
        ratio: range of the crop's aspect ratio (w / h).
        interpolation: PIL filter name (``PIL_FILTERS``; torchvision's and MAE's default
            'bicubic'), antialiased when downscaling.
    """

    def __init__(self, size: Union[int, Sequence[int]], scale: Sequence[float] = (0.08, 1.0),
                 ratio: Sequence[float] = (3 / 4, 4 / 3), interpolation: str = 'bicubic',
                 max_attempts: int = 10) -> None:
        if not (0 < scale[0] <= scale[1] <= 1):
            raise ValueError(f'RandomResizedCrop scale must satisfy 0 < min <= max <= 1, '
                             f'got {scale}')
        if not 0 < ratio[0] <= ratio[1]:
            raise ValueError(f'RandomResizedCrop ratio must satisfy 0 < min <= max, got {ratio}')
        self.size = _size_hw(size)
        self.scale = tuple(scale)
        self.log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
        self.ratio = tuple(ratio)
        self.interpolation = _check_interpolation(interpolation, 'RandomResizedCrop')
        self.max_attempts = max_attempts

    def crop_box(self, height: int, width: int) -> Tuple[int, int, int, int]:
        """(top, left, h, w) of a random crop."""
        area = height * width
        for _ in range(self.max_attempts):
            target = area * np.random.uniform(*self.scale)
            aspect = math.exp(np.random.uniform(*self.log_ratio))
            w = int(round(math.sqrt(target * aspect)))
            h = int(round(math.sqrt(target / aspect)))
            if 0 < w <= width and 0 < h <= height:
                top = np.random.randint(0, height - h + 1)
                left = np.random.randint(0, width - w + 1)
                return top, left, h, w
        # Fall back to a central crop with the ratio clamped to the allowed range.
        in_ratio = width / height
        if in_ratio < self.ratio[0]:
            w, h = width, int(round(width / self.ratio[0]))
        elif in_ratio > self.ratio[1]:
            h, w = height, int(round(height * self.ratio[1]))
        else:
            h, w = height, width
        return (height - h) // 2, (width - w) // 2, h, w

    def transform(self, results: dict) -> dict:
        out_h, out_w = self.size
        if results.get('img') is None:  # LoadImage(defer_decode=True): decode what the crop needs
            top, left, h, w = self.crop_box(*results['ori_shape'])
            crop = decode_crop_bgr(results.pop('img_bytes'), (top, left, h, w), self.size,
                                   results.get('img_path', 'in-memory sample'))
            results['img'] = mmcv.bgr2rgb(pil_resize(crop, (out_w, out_h), self.interpolation))
        else:
            img = results['img']
            top, left, h, w = self.crop_box(*img.shape[:2])
            crop = img[top:top + h, left:left + w]
            results['img'] = pil_resize(crop, (out_w, out_h), self.interpolation)
        results['img_shape'] = results['img'].shape[:2]
        results['crop_bbox'] = (left, top, left + w, top + h)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(size={self.size}, scale={self.scale}, '
                f'ratio={self.ratio}, interpolation={self.interpolation})')


@TRANSFORMS.register_module()
class ResizeShortEdge(BaseTransform):
    """Resize so that the shorter side is ``size``, keeping the aspect ratio (PIL filter
    ``interpolation``, antialiased when downscaling, as torchvision's ``Resize``)."""

    def __init__(self, size: int, interpolation: str = 'bicubic') -> None:
        self.size = size
        self.interpolation = _check_interpolation(interpolation, 'ResizeShortEdge')

    def transform(self, results: dict) -> dict:
        h, w = ensure_decoded(results).shape[:2]
        scale = self.size / min(h, w)
        new_w, new_h = max(1, int(round(w * scale))), max(1, int(round(h * scale)))
        results['img'] = pil_resize(results['img'], (new_w, new_h), self.interpolation)
        results['img_shape'] = (new_h, new_w)
        return results


@TRANSFORMS.register_module()
class CenterCrop(BaseTransform):
    """Crop the central ``size`` (h, w); the image must be at least that large."""

    def __init__(self, size: Union[int, Sequence[int]]) -> None:
        self.size = _size_hw(size)

    def transform(self, results: dict) -> dict:
        img = ensure_decoded(results)
        h, w = img.shape[:2]
        ch, cw = self.size
        if h < ch or w < cw:
            raise BadImageError(f'CenterCrop{self.size} needs an image at least that large, '
                                f'got {h}x{w} ({results.get("img_path", "in-memory sample")})')
        top, left = (h - ch) // 2, (w - cw) // 2
        results['img'] = img[top:top + ch, left:left + cw]
        results['img_shape'] = (ch, cw)
        return results


@TRANSFORMS.register_module()
class RandomCrop(BaseTransform):
    """Pad by ``padding`` on each side (``numpy.pad`` mode, e.g. 'reflect'), then crop a random
    ``size`` window. With ``ResizeShortEdge`` first it is PixMIM's simple resized crop."""

    def __init__(self, size: Union[int, Sequence[int]], padding: int = 0,
                 padding_mode: str = 'reflect') -> None:
        self.size = _size_hw(size)
        self.padding = padding
        self.padding_mode = padding_mode

    def transform(self, results: dict) -> dict:
        img = ensure_decoded(results)
        if self.padding:
            p = self.padding
            img = np.pad(img, ((p, p), (p, p), (0, 0)), mode=self.padding_mode)
        h, w = img.shape[:2]
        ch, cw = self.size
        if h < ch or w < cw:
            raise ValueError(f'RandomCrop{self.size} needs an image at least that large after '
                             f'padding, got {h}x{w} ({results.get("img_path", "in-memory")})')
        top = np.random.randint(0, h - ch + 1)
        left = np.random.randint(0, w - cw + 1)
        results['img'] = img[top:top + ch, left:left + cw]
        results['img_shape'] = (ch, cw)
        return results
