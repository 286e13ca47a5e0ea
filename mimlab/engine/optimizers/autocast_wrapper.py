"""bf16 mixed precision on any device (mmengine's AmpOptimWrapper is CUDA-only and fp16-minded)."""
import functools
from contextlib import ExitStack, contextmanager
from typing import Optional, Union

import torch
import torch.nn as nn
from mmengine.logging import print_log
from mmengine.optim import OptimWrapper
from torch.nn.attention import SDPBackend, sdpa_kernel

from mimlab.registry import OPTIM_WRAPPERS, ConfigError

_DTYPES = {'bfloat16': torch.bfloat16, 'float16': torch.float16}
# CPU flags of native bf16 matrix instructions (Intel AMX, AVX512-BF16): without them a bf16
# matmul is emulated and slower than float32.
NATIVE_BF16_FLAGS = ('amx_bf16', 'avx512_bf16')


@functools.lru_cache(maxsize=None)
def cpu_has_native_bf16() -> bool:
    """Whether this CPU has bf16 matrix instructions (Linux: /proc/cpuinfo; False elsewhere)."""
    try:
        with open('/proc/cpuinfo') as f:
            flags = next((line.split(':', 1)[1].split() for line in f
                          if line.startswith('flags')), [])
    except OSError:
        return False
    return any(flag in flags for flag in NATIVE_BF16_FLAGS)


@OPTIM_WRAPPERS.register_module()
class AutocastOptimWrapper(OptimWrapper):
    """An ``OptimWrapper`` whose forward runs under ``torch.autocast`` on the model's own device
    (CPU or GPU), without loss scaling: bfloat16 has float32's exponent range, so gradients do
    not underflow and a scaler would only cost time. Parameters, optimizer state and the
    gradients stay float32. For fp16 use mmengine's ``AmpOptimWrapper`` (a GPU and a scaler).

    On the CPU in bf16, attention runs through SDPA's math path (bf16 matmuls + softmax): torch
    2.14's fused CPU flash-attention backward is 20x slower in bf16 than in float32 (the demo
    model: 186 ms against 8 ms a call; docs/benchmarks.md), which made bf16 training slower than
    float32 even on a CPU with AMX.

    Args:
        dtype: 'bfloat16' (default) or 'float16' (only where the device's autocast allows it and
            the model's gradients stay in range; prefer ``AmpOptimWrapper`` for fp16).
        native_only: on a CPU without native bf16 matrix instructions (AMX, AVX512-BF16), run
            in float32 instead of autocast (bf16 is emulated there and slower): for configs
            such as the demo that should run fast on any CPU. GPUs are not affected.
        **kwargs: as :class:`mmengine.optim.OptimWrapper` (``optimizer``,
            ``accumulative_counts``, ``clip_grad``).
    """

    def __init__(self, dtype: Union[str, torch.dtype] = 'bfloat16', native_only: bool = False,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        if isinstance(dtype, str):
            if dtype not in _DTYPES:
                raise ValueError(f'optim_wrapper.dtype must be one of {sorted(_DTYPES)}, '
                                 f'got {dtype!r}')
            dtype = _DTYPES[dtype]
        self.cast_dtype = dtype
        self.native_only = native_only
        self._announced = False

    def _autocast_on(self, device: str) -> bool:
        if device != 'cpu' or not self.native_only or cpu_has_native_bf16():
            return True
        if not self._announced:
            print_log('optim_wrapper: this CPU has no native bf16 matrix instructions '
                      f'({" / ".join(NATIVE_BF16_FLAGS)}): training in float32 '
                      '(native_only=True)', logger='current')
            self._announced = True
        return False

    @contextmanager
    def optim_context(self, model: nn.Module):
        device = next(model.parameters()).device.type
        with ExitStack() as stack:
            stack.enter_context(super().optim_context(model))
            if self._autocast_on(device):
                stack.enter_context(torch.autocast(device, dtype=self.cast_dtype))
                if device == 'cpu' and self.cast_dtype == torch.bfloat16:
                    stack.enter_context(sdpa_kernel([SDPBackend.MATH]))
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
    if amp == 'bf16' and optim_wrapper.get('type') == 'AutocastOptimWrapper':
        # e.g. the demo: bf16 already, on native-bf16 CPUs only; asked for, bf16 everywhere
        optim_wrapper.update(dtype='bfloat16', native_only=False)
        return
    if optim_wrapper.get('type', 'OptimWrapper') != 'OptimWrapper':
        raise ConfigError(f'--amp: the config already uses {optim_wrapper["type"]}')
    if amp == 'bf16':
        optim_wrapper.update(type='AutocastOptimWrapper', dtype='bfloat16')
    else:
        optim_wrapper.update(type='AmpOptimWrapper', dtype='float16')
        optim_wrapper.setdefault('loss_scale', 'dynamic')
