"""Packing a transformed sample for the data preprocessor."""
import copy

import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmengine.structures import BaseDataElement

from mimlab.registry import TRANSFORMS


def _immutable(value) -> bool:
    if isinstance(value, tuple):
        return all(_immutable(v) for v in value)
    return value is None or isinstance(value, (bool, int, float, str))


@TRANSFORMS.register_module()
class PackInputs(BaseTransform):
    """``img`` (H, W, C) uint8 -> ``inputs`` (C, H, W) uint8 tensor (normalised later, on the
    device, by the model's data preprocessor); the rest goes into a ``BaseDataElement``:
    ``gt_label`` as data, ``meta_keys`` as metainfo."""

    def __init__(self, meta_keys=('img_path', 'sample_idx', 'ori_shape', 'img_shape')) -> None:
        self.meta_keys = tuple(meta_keys)

    def transform(self, results: dict) -> dict:
        img = np.ascontiguousarray(results['img'].transpose(2, 0, 1))
        sample = BaseDataElement()
        for key in self.meta_keys:
            if key in results:
                value = results[key]
                # BaseDataElement(metainfo=...) deep-copies every value (~20 us a sample);
                # only a mutable one needs its own copy
                sample.set_field(value if _immutable(value) else copy.deepcopy(value), key,
                                 field_type='metainfo')
        if 'gt_label' in results:
            sample.gt_label = torch.tensor(results['gt_label'])
        return dict(inputs=torch.from_numpy(img), data_samples=sample)
