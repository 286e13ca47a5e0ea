"""Reading an image into an HxWx3 uint8 RGB array."""
import cv2
import mmcv
import numpy as np
from mmcv.transforms import BaseTransform
from mmengine import fileio

from mimlab.registry import TRANSFORMS


class BadImageError(ValueError):
    """An image that cannot be used: missing, unreadable, not an image, corrupt or truncated, or
    too small. The message names the file; ``ImageDataset(skip_bad_images=True)`` skips it."""


def read_image(path: str) -> np.ndarray:
    """Decode the file at ``path`` as an HxWx3 uint8 RGB array (OpenCV converts greyscale,
    16-bit, palette, RGBA and CMYK images), or raise :class:`BadImageError` naming it."""
    try:
        data = fileio.get(path)
    except OSError as err:
        raise BadImageError(f'cannot read image {path}: {err.strerror or err}') from err
    if not data:
        raise BadImageError(f'cannot decode image {path}: the file is empty')
    try:
        img = mmcv.imfrombytes(data, flag='color', channel_order='rgb', backend='cv2')
    except cv2.error:  # OpenCV raises on some broken files and returns None on others
        img = None
    if img is None:
        raise BadImageError(f'cannot decode image {path} ({len(data)} bytes): not an image, or a '
                            'corrupt or truncated file')
    return img


@TRANSFORMS.register_module()
class LoadImage(BaseTransform):
    """Read ``results['img_path']`` (or take ``results['img']`` from an in-memory dataset) as an
    RGB uint8 array of shape (H, W, 3). Greyscale images are repeated to 3 channels, 16-bit,
    palette, RGBA and CMYK images are converted by the decoder, so every image reaches the model
    alike. A file that cannot be used raises :class:`BadImageError` naming it.

    Args:
        min_size: refuse images whose shorter side is below this many pixels (0: any size;
            random crops upsample small images, which may be what you want, e.g. CIFAR).

    Required keys: ``img_path`` or ``img``. Added keys: ``img``, ``ori_shape``, ``img_shape``.
    """

    def __init__(self, min_size: int = 0) -> None:
        self.min_size = min_size

    def transform(self, results: dict) -> dict:
        img = results.get('img')
        if img is None:
            img = read_image(results['img_path'])
        source = results.get('img_path', 'in-memory sample')
        if img.ndim == 2:
            img = np.repeat(img[:, :, None], 3, axis=2)
        elif img.shape[2] == 1:
            img = np.repeat(img, 3, axis=2)
        if img.dtype != np.uint8:
            raise TypeError(f'expected a uint8 image, got {img.dtype} ({source})')
        if min(img.shape[:2]) < self.min_size:
            raise BadImageError(f'image {source} is {img.shape[0]}x{img.shape[1]} pixels, smaller '
                                f'than LoadImage(min_size={self.min_size})')
        results['img'] = img
        results['ori_shape'] = results['img_shape'] = img.shape[:2]
        return results
