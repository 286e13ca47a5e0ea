"""Reading an image into an HxWx3 uint8 RGB array."""
import mmcv
import numpy as np
from mmcv.transforms import BaseTransform

from mimlab.registry import TRANSFORMS


@TRANSFORMS.register_module()
class LoadImage(BaseTransform):
    """Read ``results['img_path']`` (or take ``results['img']`` from an in-memory dataset) as an
    RGB uint8 array of shape (H, W, 3). Greyscale images are repeated to 3 channels, 16-bit and
    palette/CMYK images are converted by the decoder, so every image reaches the model alike.

    Required keys: ``img_path`` or ``img``. Added keys: ``img``, ``ori_shape``, ``img_shape``.
    """

    def transform(self, results: dict) -> dict:
        img = results.get('img')
        if img is None:
            path = results['img_path']
            try:
                img = mmcv.imread(path, flag='color', channel_order='rgb', backend='cv2')
            except Exception as err:  # cv2 raises on some broken files, returns None on others
                raise OSError(f'cannot decode image {path}: {err}') from err
            if img is None:
                raise OSError(f'cannot decode image {path}: not an image, or a truncated file')
        if img.ndim == 2:
            img = np.repeat(img[:, :, None], 3, axis=2)
        elif img.shape[2] == 1:
            img = np.repeat(img, 3, axis=2)
        if img.dtype != np.uint8:
            raise TypeError(f'expected a uint8 image, got {img.dtype} '
                            f'({results.get("img_path", "in-memory sample")})')
        results['img'] = img
        results['ori_shape'] = results['img_shape'] = img.shape[:2]
        return results
