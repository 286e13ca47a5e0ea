"""bf16 mixed precision on any device (mmengine's AmpOptimWrapper is CUDA-only and fp16-minded)."""
from contextlib import contextmanager
from typing import Optional, Union

import torch
import torch.nn as nn
from mmengine.optim import OptimWrapper

from mimlab.registry import OPTIM_WRAPPERS
from ..errors import ConfigError

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


def set_amp(optim_wrapper: dict, amp: Optional[str], device: str) -> None:
    """Switch an ``optim_wrapper`` config to mixed precision, in place (``--amp`` of
    tools/train.py and tools/analysis_tools/benchmark.py).

    Args:
        optim_wrapper: the config's ``optim_wrapper``; its type must be the plain OptimWrapper.
        amp: 'bf16' (:class:`AutocastOptimWrapper`: bfloat16 autocast without a scaler, CPU or
            GPU), 'fp16' (mmengine's AmpOptimWrapper: float16 autocast with dynamic loss
            scaling, CUDA only), or None (no change).
        device: where the model will run ('cpu', 'cuda', 'cuda:1').
    """
    if amp is None:
        return
    if amp not in ('bf16', 'fp16'):
        raise ConfigError(f"--amp must be 'bf16' or 'fp16', got {amp!r}")
    if amp == 'fp16' and not device.startswith('cuda'):
        raise ConfigError('--amp fp16 needs a CUDA GPU (mmengine AmpOptimWrapper, loss scaling); '
                          'use --amp bf16 on the CPU')
    if optim_wrapper.get('type', 'OptimWrapper') != 'OptimWrapper':
        raise ConfigError(f'--amp: the config already uses {optim_wrapper["type"]}')
    if amp == 'bf16':
        optim_wrapper.update(type='AutocastOptimWrapper', dtype='bfloat16')
    else:
        optim_wrapper.update(type='AmpOptimWrapper', dtype='float16')
        optim_wrapper.setdefault('loss_scale', 'dynamic')
