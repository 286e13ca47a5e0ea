"""Reading an image into an HxWx3 uint8 RGB array."""
import io
from typing import Optional, Tuple

import cv2
import mmcv
import numpy as np
from mmcv.transforms import BaseTransform
from mmengine import fileio
from PIL import Image

from mimlab.registry import TRANSFORMS


class BadImageError(ValueError):
    """An image that cannot be used: missing, unreadable, not an image, corrupt or truncated, or
    too small. The message names the file; ``ImageDataset(skip_bad_images=True)`` skips it."""


def read_bytes(path: str) -> bytes:
    """The bytes of the file at ``path``, or :class:`BadImageError` naming it."""
    try:
        data = fileio.get(path)
    except OSError as err:
        raise BadImageError(f'cannot read image {path}: {err.strerror or err}') from err
    if not data:
        raise BadImageError(f'cannot decode image {path}: the file is empty')
    return data


def decode_image(data: bytes, source: str) -> np.ndarray:
    """Decode encoded image bytes as an HxWx3 uint8 RGB array (OpenCV converts greyscale,
    16-bit, palette, RGBA and CMYK images), or raise :class:`BadImageError` naming ``source``."""
    try:
        img = mmcv.imfrombytes(data, flag='color', channel_order='rgb', backend='cv2')
    except cv2.error:  # OpenCV raises on some broken files and returns None on others
        img = None
    if img is None:
        raise BadImageError(f'cannot decode image {source} ({len(data)} bytes): not an image, or '
                            'a corrupt or truncated file')
    return img


def read_image(path: str) -> np.ndarray:
    """Decode the file at ``path`` as an HxWx3 uint8 RGB array, or raise
    :class:`BadImageError` naming it."""
    return decode_image(read_bytes(path), path)


def jpeg_size(data: bytes) -> Optional[Tuple[int, int]]:
    """(height, width) from a JPEG's header without decoding it; None for anything else and for
    a JPEG whose EXIF orientation turns it (the decoder rotates those, so the header's size would
    not be the decoded image's)."""
    if not data.startswith(b'\xff\xd8'):
        return None
    try:
        with Image.open(io.BytesIO(data)) as im:
            if im.format != 'JPEG' or im.getexif().get(0x0112, 1) != 1:
                return None
            return im.size[1], im.size[0]
    except (OSError, SyntaxError, ValueError):
        return None  # the full decode will name the problem


# cv2's JPEG decoder scales by 1/2, 1/4 or 1/8 in the DCT domain: 4-60x less work than a full
# decode followed by a downscaling resize.
_REDUCED_FLAGS = ((8, cv2.IMREAD_REDUCED_COLOR_8), (4, cv2.IMREAD_REDUCED_COLOR_4),
                  (2, cv2.IMREAD_REDUCED_COLOR_2))


def decode_crop_bgr(data: bytes, box: Tuple[int, int, int, int], min_size: Tuple[int, int],
                    source: str) -> np.ndarray:
    """Decode the ``box`` (top, left, h, w) of a JPEG at the smallest DCT scale (1, 1/2, 1/4,
    1/8) that keeps the crop at least ``min_size`` (h, w), as a **BGR** uint8 array (the caller
    converts after resizing, on fewer pixels). At scale 1 the crop is exactly the full decode's;
    at a reduced scale it differs from a full decode + resize by the decoder's filtering and by
    rounding the box to the reduced grid (see docs/performance.md for the measured difference).
    """
    top, left, h, w = box
    factor, flag = 1, cv2.IMREAD_COLOR
    for f, reduced_flag in _REDUCED_FLAGS:
        if h // f >= min_size[0] and w // f >= min_size[1]:
            factor, flag = f, reduced_flag
            break
    try:
        img = cv2.imdecode(np.frombuffer(data, np.uint8), flag)
    except cv2.error:
        img = None
    if img is None:
        raise BadImageError(f'cannot decode image {source} ({len(data)} bytes): not an image, or '
                            'a corrupt or truncated file')
    if factor > 1:
        top, left = round(top / factor), round(left / factor)
        h, w = max(min_size[0], round(h / factor)), max(min_size[1], round(w / factor))
        top = min(top, img.shape[0] - h)
        left = min(left, img.shape[1] - w)
    return img[top:top + h, left:left + w]


def ensure_decoded(results: dict) -> np.ndarray:
    """``results['img']``, decoding it fully if :class:`LoadImage` deferred the decode."""
    if results.get('img') is None:
        results['img'] = decode_image(results.pop('img_bytes'),
                                      results.get('img_path', 'in-memory sample'))
    return results['img']


@TRANSFORMS.register_module()
class LoadImage(BaseTransform):
    """Read ``results['img_path']`` (or take ``results['img']`` from an in-memory dataset) as an
    RGB uint8 array of shape (H, W, 3). Greyscale images are repeated to 3 channels, 16-bit,
    palette, RGBA and CMYK images are converted by the decoder, so every image reaches the model
    alike. A file that cannot be used raises :class:`BadImageError` naming it.

    Args:
        min_size: refuse images whose shorter side is below this many pixels (0: any size;
            random crops upsample small images, which may be what you want, e.g. CIFAR).
        defer_decode: for a JPEG, read only its header here and leave the decode to the next
            transform, which must be one of mimlab's: :class:`RandomResizedCrop` then decodes
            only at the DCT scale its crop needs (see :func:`decode_crop_bgr`); the others decode
            in full. Other formats and EXIF-rotated JPEGs are decoded here as usual.

    Required keys: ``img_path``, ``img_bytes`` (encoded, e.g. from a tar shard) or ``img``.
    Added keys: ``img`` (or ``img_bytes`` when deferred), ``ori_shape``, ``img_shape``.
    """

    def __init__(self, min_size: int = 0, defer_decode: bool = False) -> None:
        self.min_size = min_size
        self.defer_decode = defer_decode

    def transform(self, results: dict) -> dict:
        img = results.get('img')
        source = results.get('img_path', 'in-memory sample')
        if img is None:
            data = results.get('img_bytes')
            if data is None:
                data = read_bytes(results['img_path'])
            size = jpeg_size(data) if self.defer_decode else None
            if size is not None:
                self._check_size(size, source)
                results['img_bytes'] = data
                results['ori_shape'] = results['img_shape'] = size
                return results
            results.pop('img_bytes', None)
            img = decode_image(data, source)
        if img.ndim == 2:
            img = np.repeat(img[:, :, None], 3, axis=2)
        elif img.shape[2] == 1:
            img = np.repeat(img, 3, axis=2)
        if img.dtype != np.uint8:
            raise TypeError(f'expected a uint8 image, got {img.dtype} ({source})')
        self._check_size(img.shape[:2], source)
        results['img'] = img
        results['ori_shape'] = results['img_shape'] = img.shape[:2]
        return results

    def _check_size(self, size: Tuple[int, int], source: str) -> None:
        if min(size) < self.min_size:
            raise BadImageError(f'image {source} is {size[0]}x{size[1]} pixels, smaller '
                                f'than LoadImage(min_size={self.min_size})')
