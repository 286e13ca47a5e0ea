"""Packing a transformed sample for the data preprocessor."""
import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmengine.structures import BaseDataElement

from mimlab.registry import TRANSFORMS


@TRANSFORMS.register_module()
class PackInputs(BaseTransform):
    """``img`` (H, W, C) uint8 -> ``inputs`` (C, H, W) uint8 tensor (normalised later, on the
    device, by the model's data preprocessor); the rest goes into a ``BaseDataElement``:
    ``gt_label`` as data, ``meta_keys`` as metainfo."""

    def __init__(self, meta_keys=('img_path', 'sample_idx', 'ori_shape', 'img_shape')) -> None:
        self.meta_keys = tuple(meta_keys)

    def transform(self, results: dict) -> dict:
        img = np.ascontiguousarray(results['img'].transpose(2, 0, 1))
        sample = BaseDataElement(metainfo={k: results[k] for k in self.meta_keys if k in results})
        if 'gt_label' in results:
            sample.gt_label = torch.tensor(results['gt_label'])
        return dict(inputs=torch.from_numpy(img), data_samples=sample)
