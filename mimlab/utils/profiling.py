"""Measuring a training step and a data pipeline: throughput, peak memory, FLOPs and MFU.

Used by ``tools/analysis_tools/benchmark.py``, ``compare_peer.py`` and ``mask_cost.py``; nothing
here is timed in the tests (benchmarks are scripts), the pieces are tested for correctness.
"""
import os
import resource
import statistics
import time
from typing import Callable, Dict, List, Optional, Sequence

import torch
from torch.utils.flop_counter import (FlopCounterMode, sdpa_backward_flop_count,
                                     sdpa_flop_count)

# Dense peak FLOP/s by device name fragment and dtype, from the vendors' data sheets (no sparsity).
GPU_PEAK_FLOPS = {
    'H100': {'bfloat16': 989.4e12, 'float16': 989.4e12, 'float32': 494.7e12},  # SXM, fp32 = TF32
    'H200': {'bfloat16': 989.4e12, 'float16': 989.4e12, 'float32': 494.7e12},
    'A100': {'bfloat16': 312e12, 'float16': 312e12, 'float32': 156e12},
}


def rss_bytes() -> int:
    """This process's resident memory now (Linux /proc), in bytes."""
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')


def peak_rss_bytes() -> int:
    """This process's peak resident memory so far, in bytes (``ru_maxrss`` is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def synchronize(device: str) -> None:
    if device.startswith('cuda'):
        torch.cuda.synchronize()


def measured_matmul_flops(dtype: torch.dtype = torch.float32, size: int = 1024,
                          seconds: float = 1.0, device: str = 'cpu') -> float:
    """FLOP/s of a dense ``size`` x ``size`` matmul at the current thread count: the CPU's
    achievable peak, against which MFU is stated on the CPU (no data sheet covers a shared VM)."""
    a = torch.randn(size, size, device=device).to(dtype)
    b = torch.randn(size, size, device=device).to(dtype)
    torch.mm(a, b)
    synchronize(device)
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        torch.mm(a, b)
        count += 1
    synchronize(device)
    return 2 * size ** 3 * count / (time.perf_counter() - start)


def device_peak_flops(device: str, dtype: torch.dtype) -> Dict[str, object]:
    """The peak used for MFU: a data-sheet figure for known GPUs, else a measured matmul."""
    name = dtype_name(dtype)
    if device.startswith('cuda'):
        gpu = torch.cuda.get_device_name()
        for key, peaks in GPU_PEAK_FLOPS.items():
            if key in gpu:
                return dict(peak_flops=peaks[name], peak_source=f'{gpu} data sheet, {name} dense')
        return dict(peak_flops=measured_matmul_flops(dtype, 8192, 2.0, device),
                    peak_source=f'{gpu}, measured {name} 8192^3 matmul')
    return dict(peak_flops=measured_matmul_flops(dtype),
                peak_source=f'measured {name} 1024^3 matmul, {torch.get_num_threads()} threads')


def dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).replace('torch.', '')


def _cpu_sdpa_flop(query_shape, key_shape, value_shape, *args, out_shape=None, **kwargs) -> int:
    return sdpa_flop_count(query_shape, key_shape, value_shape)


def _cpu_sdpa_backward_flop(grad_out_shape, query_shape, key_shape, value_shape, *args,
                            out_shape=None, **kwargs) -> int:
    return sdpa_backward_flop_count(grad_out_shape, query_shape, key_shape, value_shape)


# torch's counter knows the GPU attention kernels but not the CPU flash kernel that
# F.scaled_dot_product_attention runs on the CPU: count it with the same formulas.
_CPU_SDPA = {torch.ops.aten._scaled_dot_product_flash_attention_for_cpu: _cpu_sdpa_flop,
             torch.ops.aten._scaled_dot_product_flash_attention_for_cpu_backward:
             _cpu_sdpa_backward_flop}


def count_flops(fn: Callable[[], object]) -> Dict[str, int]:
    """FLOPs of what ``fn`` runs (forward and any backward inside it), counted by
    ``torch.utils.flop_counter`` per module: {'total': N, '<module path>': N, ...}, module paths
    from the outermost module called (e.g. 'MAE.neck' and 'MAE.backbone.blocks.0' for
    ``model(..., mode='loss')``: modules count when they are called, not a method such as the
    encoder's ``forward_masked``)."""
    with FlopCounterMode(display=False, custom_mapping=_CPU_SDPA) as counter:
        fn()
    counts = {name: sum(ops.values()) for name, ops in counter.get_flop_counts().items()}
    counts['total'] = counter.get_total_flops()
    return counts


class StepTimes(list):
    """Wall-clock seconds of each step; ``cpu`` holds the process's CPU seconds (all threads)
    of each, which other jobs on a shared machine disturb far less than the wall clock."""

    def __init__(self) -> None:
        super().__init__()
        self.cpu: List[float] = []


def time_steps(step: Callable[[], object], iters: int, warmup: int,
               device: str = 'cpu') -> StepTimes:
    """Seconds of each of ``iters`` calls of ``step`` after ``warmup`` untimed ones."""
    for _ in range(warmup):
        step()
    synchronize(device)
    times = StepTimes()
    for _ in range(iters):
        start, cpu_start = time.perf_counter(), time.process_time()
        step()
        synchronize(device)
        times.append(time.perf_counter() - start)
        times.cpu.append(time.process_time() - cpu_start)
    return times


def summarize_times(times: Sequence[float], batch_size: int) -> Dict[str, float]:
    median = statistics.median(times)
    result = dict(step_s_median=median, step_s_min=min(times), step_s_max=max(times),
                  images_per_s=batch_size / median, iters=len(times))
    cpu = getattr(times, 'cpu', None)
    if cpu:
        result['step_cpu_s_median'] = statistics.median(cpu)
        result['images_per_cpu_s'] = batch_size / result['step_cpu_s_median']
    return result


def random_images(batch_size: int, size: int, channels: int = 3,
                  seed: int = 0) -> List[torch.Tensor]:
    """uint8 (C, H, W) images as the data pipeline hands them to the data preprocessor."""
    gen = torch.Generator().manual_seed(seed)
    return [torch.randint(0, 256, (channels, size, size), dtype=torch.uint8, generator=gen)
            for _ in range(batch_size)]


def train_step_benchmark(model: torch.nn.Module, optim_wrapper, data: dict, iters: int,
                         warmup: int, device: str = 'cpu',
                         flops_fn: Optional[Callable[[], object]] = None) -> Dict[str, object]:
    """Time ``model.train_step(data, optim_wrapper)`` (data preprocessing, forward, backward and
    the optimizer step), then count the FLOPs of one forward + backward (``flops_fn``, default:
    the loss of ``data`` and its backward). Memory: peak RSS (CPU) or peak allocated (GPU)."""
    if device.startswith('cuda'):
        torch.cuda.reset_peak_memory_stats()
    rss_before = rss_bytes()
    times = time_steps(lambda: model.train_step(data, optim_wrapper), iters, warmup, device)
    result = summarize_times(times, len(data['inputs']))
    if device.startswith('cuda'):
        result['peak_memory_bytes'] = torch.cuda.max_memory_allocated()
        result['memory_kind'] = 'torch.cuda.max_memory_allocated'
    else:
        result['peak_memory_bytes'] = peak_rss_bytes()
        result['rss_before_steps_bytes'] = rss_before
        result['memory_kind'] = 'peak RSS of the process'

    def forward_backward():
        batch = model.data_preprocessor(data, True)
        with optim_wrapper.optim_context(model):
            losses = model(**batch, mode='loss')
        loss = sum(v for k, v in losses.items() if 'loss' in k)
        loss.backward()
        optim_wrapper.zero_grad()

    flops = count_flops(flops_fn or forward_backward)
    result['flops_per_image'] = flops['total'] / len(data['inputs'])
    result['flops_by_module'] = {k: v for k, v in flops.items() if k != 'total'}
    result['achieved_flops'] = result['flops_per_image'] * result['images_per_s']
    return result


def pipeline_benchmark(dataset, num_images: int, warmup: int = 5,
                       collate: Optional[Callable] = None,
                       preprocess: Optional[Callable] = None,
                       batch_size: int = 32) -> Dict[str, float]:
    """Images/s of one worker: ``dataset[i]`` (read, decode, transforms, packing) for
    ``num_images`` samples, then, if given, ``collate`` + ``preprocess`` (normalisation into a
    float batch) on batches of ``batch_size``; both stages and their total."""
    n = len(dataset)
    for i in range(warmup):
        dataset[i % n]
    samples = []
    start, cpu_start = time.perf_counter(), time.process_time()
    for i in range(num_images):
        samples.append(dataset[(warmup + i) % n])
    load_s, load_cpu = time.perf_counter() - start, time.process_time() - cpu_start
    result = dict(images=num_images, load_images_per_s=num_images / load_s)
    batch_s = batch_cpu = 0.0
    if collate is not None:
        start, cpu_start = time.perf_counter(), time.process_time()
        for i in range(0, num_images, batch_size):
            batch = collate(samples[i:i + batch_size])
            if preprocess is not None:
                preprocess(batch)
        batch_s, batch_cpu = time.perf_counter() - start, time.process_time() - cpu_start
        result['collate_normalize_images_per_s'] = num_images / batch_s
    result['images_per_s'] = num_images / (load_s + batch_s)
    result['images_per_cpu_s'] = num_images / (load_cpu + batch_cpu)
    return result
