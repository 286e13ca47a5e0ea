"""A folder of ImageNet-sized JPEGs made from real photos, for measuring a data pipeline where
no image data set is at hand."""
import os
from typing import List, Sequence

import numpy as np

# ImageNet train images: about 400 x 350 on average, most 500 x 375 or 500 x 333 (landscape), a
# share portrait, a few large; this mix stands in for it.
IMAGENET_LIKE_SIZES = ((375, 500), (333, 500), (500, 375), (375, 500), (400, 500), (334, 500),
                       (500, 333), (375, 500), (768, 1024), (300, 400))


def write_jpeg_folder(folder: str, num_images: int = 64,
                      sizes: Sequence = IMAGENET_LIKE_SIZES, quality: int = 90) -> List[str]:
    """Write ``num_images`` JPEGs of real photos (the colour images that ship inside
    scikit-image, resized and cropped to ``sizes`` (h, w) in turn) into ``folder``."""
    import cv2
    from skimage import data as skdata
    names = ['astronaut', 'coffee', 'chelsea', 'rocket', 'cat', 'hubble_deep_field',
             'immunohistochemistry', 'retina', 'colorwheel', 'logo']
    photos = []
    for name in names:
        loader = getattr(skdata, name, None)
        try:
            img = loader() if loader is not None else None
        except Exception:  # an image that would need a download: skip it
            img = None
        if img is not None and img.ndim == 3:
            photos.append(np.ascontiguousarray(img[..., :3]))
    if not photos:
        raise RuntimeError('scikit-image ships no colour photo here; pass a folder of JPEGs')
    os.makedirs(folder, exist_ok=True)
    paths = []
    for i in range(num_images):
        h, w = sizes[i % len(sizes)]
        photo = photos[i % len(photos)]
        scale = max(h / photo.shape[0], w / photo.shape[1])
        resized = cv2.resize(photo, (max(w, round(photo.shape[1] * scale)),
                                     max(h, round(photo.shape[0] * scale))),
                             interpolation=cv2.INTER_AREA)
        top = (resized.shape[0] - h) // 2
        left = (resized.shape[1] - w) // 2
        crop = resized[top:top + h, left:left + w]
        path = os.path.join(folder, f'{i:05d}.jpg')
        cv2.imwrite(path, cv2.cvtColor(crop, cv2.COLOR_RGB2BGR),
                    [cv2.IMWRITE_JPEG_QUALITY, quality])
        paths.append(path)
    return paths
