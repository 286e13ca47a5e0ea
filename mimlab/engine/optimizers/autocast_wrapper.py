"""bf16 mixed precision on any device (mmengine's AmpOptimWrapper is CUDA-only and fp16-minded)."""
from contextlib import contextmanager
from typing import Union

import torch
import torch.nn as nn
from mmengine.optim import OptimWrapper

from mimlab.registry import OPTIM_WRAPPERS

_DTYPES = {'bfloat16': torch.bfloat16, 'float16': torch.float16}


@OPTIM_WRAPPERS.register_module()
class AutocastOptimWrapper(OptimWrapper):
    """An ``OptimWrapper`` whose forward runs under ``torch.autocast`` on the model's own device
    (CPU or GPU), without loss scaling: bfloat16 has float32's exponent range, so gradients do
    not underflow and a scaler would only cost time. Parameters, optimizer state and the
    gradients stay float32. For fp16 use mmengine's ``AmpOptimWrapper`` (a GPU and a scaler).

    Args:
        dtype: 'bfloat16' (default) or 'float16' (only where the device's autocast allows it and
            the model's gradients stay in range; prefer ``AmpOptimWrapper`` for fp16).
        **kwargs: as :class:`mmengine.optim.OptimWrapper` (``optimizer``,
            ``accumulative_counts``, ``clip_grad``).
    """

    def __init__(self, dtype: Union[str, torch.dtype] = 'bfloat16', **kwargs) -> None:
        super().__init__(**kwargs)
        if isinstance(dtype, str):
            if dtype not in _DTYPES:
                raise ValueError(f'optim_wrapper.dtype must be one of {sorted(_DTYPES)}, '
                                 f'got {dtype!r}')
            dtype = _DTYPES[dtype]
        self.cast_dtype = dtype

    @contextmanager
    def optim_context(self, model: nn.Module):
        device = next(model.parameters()).device.type
        with super().optim_context(model), torch.autocast(device, dtype=self.cast_dtype):
            yield
