"""The GPU report: the training figures of MAE on a GPU from one call, within a time budget.

Sections (each guarded: a failure is recorded in the JSON and the next section runs):

- ``vit-b`` / ``vit-b-compile``: MAE ViT-B/16 train step (bf16 autocast, fused AdamW, SDPA
  with the flash kernel) at batch 256, eager and with the model's ``compile`` key: images/s,
  FLOPs per image counted by ``torch.utils.flop_counter``, achieved TFLOP/s, MFU against the
  card's dense bf16 peak, peak memory;
- ``peer``: the same model, batch and precision through mmpretrain 1.2.0 (its
  ``AmpOptimWrapper`` in bf16, its AdamW) in the same process, and the ratio;
- ``vit-l`` / ``vit-h``: MAE ViT-L/16 and ViT-H/14: does it fit, images/s and peak memory;
  activation checkpointing (``with_cp``) when the plain run does not fit or needs more than an
  80 GB card;
- ``data``: the ImageNet MAE JPEG pipeline with N data-loader workers on generated JPEGs
  against the measured step rate; if it cannot feed the step, the GPU-side lever (raw bytes from
  the workers, ``torchvision.io.decode_jpeg`` on the device, crop/flip/normalise there);
- ``profile``: the top kernels of the compiled step (torch.profiler), by category.

The configs come in as arguments (``tools/analysis_tools/gpu_report.py`` names the repository's
MAE ViT-B/L/H configs). Run by ``tools/analysis_tools/gpu_report.sh`` (which installs the
carried wheels first); on the CPU with ``--device cpu --tiny`` it runs every section on tiny
models in seconds (the test).
"""
import gc
import json
import os
import os.path as osp
import tempfile
import time
import traceback
from contextlib import contextmanager
from typing import Callable, Dict, List, Optional

import numpy as np
import torch

from mimlab.datasets.jpeg_folder import write_jpeg_folder
from mimlab.utils.profiling import (GPU_PEAK_FLOPS, device_peak_flops, random_images,
                                    train_step_benchmark)

# The MAE configs the report measures (``run_report``'s ``configs``), and the model each is.
MODELS = ('vit-b', 'vit-l', 'vit-h')
PEER_CONFIG = 'mae/mae_vit-base-p16_8xb512-amp-coslr-300e_in1k.py'
# The tiny sizes of the CPU test: every section runs, on models of a few thousand parameters.
TINY_BACKBONE = dict(arch=dict(embed_dim=32, depth=2, num_heads=2), img_size=32, patch_size=8)
TINY_NECK = dict(embed_dim=16, depth=1, num_heads=2)
CARD_80GB = 80e9


class Budget:
    """Seconds left of the report's time budget; a section that would not fit is skipped."""

    def __init__(self, seconds: float) -> None:
        self.deadline = time.monotonic() + seconds

    def left(self) -> float:
        return self.deadline - time.monotonic()


def free_memory() -> None:
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


@contextmanager
def flash_attention(device: str):
    """SDPA restricted to the flash kernel on a GPU (an error instead of a silent fallback to
    the math kernel); no restriction on the CPU."""
    if not device.startswith('cuda'):
        yield
        return
    from torch.nn.attention import SDPBackend, sdpa_kernel
    with sdpa_kernel([SDPBackend.FLASH_ATTENTION]):
        yield


def mae_cfg(config: str, tiny: bool, compile_opts=False, with_cp: bool = False):
    """mimlab's MAE config file ``config`` with the report's settings: bf16 autocast, fused
    AdamW."""
    from mmengine.config import Config
    cfg = Config.fromfile(config)
    if tiny:
        cfg.model.backbone.arch = dict(TINY_BACKBONE['arch'])
        cfg.model.backbone.update(img_size=TINY_BACKBONE['img_size'],
                                  patch_size=TINY_BACKBONE['patch_size'])
        cfg.model.neck.update(TINY_NECK)
    cfg.model.backbone.with_cp = with_cp
    cfg.model.compile = compile_opts
    cfg.optim_wrapper.update(type='AutocastOptimWrapper', dtype='bfloat16')
    cfg.optim_wrapper.optimizer.fused = True
    return cfg


def step_figures(result: dict, peak: dict) -> dict:
    """The JSON fields of a train-step measurement."""
    return dict(images_per_s=result['images_per_s'], step_s_median=result['step_s_median'],
                step_s_min=result['step_s_min'], step_s_max=result['step_s_max'],
                iters=result['iters'], flops_per_image=result['flops_per_image'],
                achieved_tflops=result['achieved_flops'] / 1e12,
                mfu=result['achieved_flops'] / peak['peak_flops'],
                peak_memory_gib=result['peak_memory_bytes'] / 2 ** 30,
                memory_kind=result['memory_kind'])


def measure_mimlab(cfg, batch: int, device: str, iters: int, warmup: int, peak: dict,
                   keep: Optional[dict] = None) -> dict:
    """One MAE train step configuration: ``model.train_step`` on a uint8 batch already on the
    device (a pinned, non-blocking loader overlaps the copy in training)."""
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import init_default_scope
    from mmengine.structures import BaseDataElement

    from mimlab.registry import MODELS
    init_default_scope('mimlab')
    torch.manual_seed(0)
    model = MODELS.build(cfg.model).to(device).train()
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    size = cfg.model.backbone.img_size
    data = dict(inputs=torch.stack(random_images(batch, size)).to(device),
                data_samples=[BaseDataElement() for _ in range(batch)])

    def flops_fn():  # the eager loss: compiled kernels hide their ops from the counter
        inputs = model.data_preprocessor(data, True)['inputs']
        with optim_wrapper.optim_context(model):
            loss = model.loss(inputs)['loss_rec']
        loss.backward()
        optim_wrapper.zero_grad()

    with flash_attention(device):
        result = train_step_benchmark(model, optim_wrapper, data, iters, warmup, device,
                                      flops_fn=flops_fn)
    out = step_figures(result, peak)
    out.update(batch_size=batch, img_size=size, with_cp=cfg.model.backbone.with_cp,
               compile=cfg.model.compile,
               params_m=sum(p.numel() for p in model.parameters()) / 1e6)
    if keep is not None:  # the profile section reuses the compiled model
        keep.update(model=model, optim_wrapper=optim_wrapper, data=data)
    return out


def peer_cfg(tiny: bool, device: str):
    """mmpretrain 1.2.0's own MAE ViT-B config (shipped inside the package), bf16 through its
    AmpOptimWrapper, as its users run it (mmengine's AmpOptimWrapper is GPU-only: float32 with
    its plain OptimWrapper on the CPU, where only the code path is checked)."""
    import mmpretrain
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(osp.dirname(mmpretrain.__file__), '.mim', 'configs',
                                   PEER_CONFIG))
    if device.startswith('cuda'):
        cfg.optim_wrapper.update(type='AmpOptimWrapper', dtype='bfloat16')
    else:
        cfg.optim_wrapper.type = 'OptimWrapper'
        cfg.optim_wrapper.pop('loss_scale', None)
    cfg.model.data_preprocessor = cfg.data_preprocessor  # what mmpretrain's train.py does
    if tiny:
        size, patch = TINY_BACKBONE['img_size'], TINY_BACKBONE['patch_size']
        cfg.model.backbone.update(arch=dict(embed_dims=32, num_layers=2, num_heads=2,
                                            feedforward_channels=128), img_size=size,
                                  patch_size=patch)
        cfg.model.neck.update(num_patches=(size // patch) ** 2, patch_size=patch,
                              embed_dim=32, decoder_embed_dim=16, decoder_depth=1,
                              decoder_num_heads=2)
        cfg.model.head.patch_size = patch
    return cfg


def measure_peer(batch: int, device: str, iters: int, warmup: int, peak: dict,
                 tiny: bool) -> dict:
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import init_default_scope
    init_default_scope('mmpretrain')
    try:
        from mmpretrain.registry import MODELS
        from mmpretrain.structures import DataSample
        cfg = peer_cfg(tiny, device)
        torch.manual_seed(0)
        model = MODELS.build(cfg.model).to(device).train()
        optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
        size = cfg.model.backbone.img_size
        data = dict(inputs=torch.stack(random_images(batch, size)).to(device),
                    data_samples=[DataSample() for _ in range(batch)])
        with flash_attention(device):
            result = train_step_benchmark(model, optim_wrapper, data, iters, warmup, device)
    finally:
        init_default_scope('mimlab')
    out = step_figures(result, peak)
    out.update(batch_size=batch, optimizer=repr(cfg.optim_wrapper.optimizer),
               optim_wrapper=cfg.optim_wrapper.type)
    return out


def measure_large(config: str, batch: int, device: str, iters: int, warmup: int, peak: dict,
                  tiny: bool) -> dict:
    """ViT-L/H: plain first; activation checkpointing when that does not fit, or does not fit
    an 80 GB card."""
    runs = {}
    for with_cp in (False, True):
        key = 'with_cp' if with_cp else 'plain'
        try:
            runs[key] = measure_mimlab(mae_cfg(config, tiny, with_cp=with_cp), batch, device,
                                       iters, warmup, peak)
            runs[key]['fits'] = True
        except torch.cuda.OutOfMemoryError as err:
            runs[key] = dict(fits=False, error=str(err).split('\n')[0])
        free_memory()
        plain = runs['plain']
        if plain['fits'] and plain['peak_memory_gib'] * 2 ** 30 < CARD_80GB:
            break
    for run in runs.values():
        if run['fits'] and device.startswith('cuda'):
            run['fits_80gb_card'] = run['peak_memory_gib'] * 2 ** 30 < CARD_80GB
    return runs


def device_decode_batch(jpegs: List[torch.Tensor], size: int, device: str, mean, std,
                        generator: np.random.Generator) -> torch.Tensor:
    """The GPU-side lever: decode JPEG bytes on ``device`` (``torchvision.io.decode_jpeg``,
    nvJPEG on a GPU), then RandomResizedCrop (scale 0.2-1, bicubic) + horizontal flip +
    normalisation there; (B, 3, size, size) float."""
    from torchvision.io import ImageReadMode, decode_jpeg
    from torchvision.transforms.v2 import functional as TF

    from mimlab.datasets.transforms import RandomResizedCrop
    rrc = RandomResizedCrop(size, scale=(0.2, 1.0))
    images = decode_jpeg(jpegs, mode=ImageReadMode.RGB, device=device)
    out = []
    for img in images:
        np.random.seed(int(generator.integers(2 ** 31)))
        top, left, h, w = rrc.crop_box(img.shape[1], img.shape[2])
        crop = TF.resized_crop(img, top, left, h, w, [size, size],
                               interpolation=TF.InterpolationMode.BICUBIC, antialias=True)
        out.append(crop.flip(-1) if generator.random() < 0.5 else crop)
    batch = torch.stack(out).float()
    mean = torch.tensor(mean, device=device).view(1, 3, 1, 1)
    std = torch.tensor(std, device=device).view(1, 3, 1, 1)
    return (batch - mean) / std


class _JpegBytes(torch.utils.data.Dataset):
    """The files' bytes (what a worker hands over for decoding on the GPU). Plain bytes, not
    tensors: a batch of hundreds of small tensors goes through one file descriptor each, which
    runs out of descriptors."""

    def __init__(self, paths: List[str]) -> None:
        self.paths = paths

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> bytes:
        with open(self.paths[i], 'rb') as f:
            return f.read()


def _loader_rate(dataset, workers: int, batch: int, num_images: int, collate,
                 consume: Callable = lambda b: None, device: str = 'cpu') -> dict:
    """Images/s of a DataLoader over ``dataset`` (sampled with replacement) with ``workers``
    processes, after its first batch (worker start-up)."""
    sampler = torch.utils.data.RandomSampler(dataset, replacement=True,
                                             num_samples=num_images + batch)
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch, sampler=sampler,
                                         num_workers=workers, collate_fn=collate,
                                         pin_memory=device.startswith('cuda'),
                                         prefetch_factor=4 if workers else None,
                                         timeout=120 if workers else 0)  # a hang: an error
    it = iter(loader)
    consume(next(it))
    if device.startswith('cuda'):
        torch.cuda.synchronize()
    count, start = 0, time.perf_counter()
    for b in it:
        consume(b)
        count += len(b['inputs']) if isinstance(b, dict) else len(b)
    if device.startswith('cuda'):
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    return dict(images=count, seconds=seconds, images_per_s=count / seconds, workers=workers)


def measure_data(config: str, step_images_per_s: Optional[float], workers: int, batch: int,
                 num_images: int, device: str, tiny: bool) -> dict:
    """The CPU JPEG pipeline of ``config`` (its train dataset) with ``workers`` processes
    against the step rate, and the GPU-side lever when the CPU path falls short (always
    measured with ``tiny``, to test it)."""
    from mmengine.config import Config
    from mmengine.dataset import pseudo_collate

    from mimlab.registry import DATASETS
    import cv2

    # OpenCV's thread pool does not survive fork: a forked worker's first resize would wait
    # forever on it. No pool (what mmengine's runner sets too), before writing the JPEGs.
    cv2.setNumThreads(0)
    cfg = Config.fromfile(config)
    folder = tempfile.mkdtemp(prefix='gpu_report_jpegs_')
    paths = write_jpeg_folder(folder, num_images=16 if tiny else 256)
    dataset_cfg = cfg.train_dataloader.dataset
    dataset_cfg.data_root = folder
    size = 32 if tiny else 224
    for t in dataset_cfg.pipeline:
        if 'size' in t:
            t['size'] = size
    dataset = DATASETS.build(dataset_cfg)
    out = dict(jpeg_folder=folder, images_in_folder=len(paths), crop_size=size,
               cpu_pipeline=_loader_rate(dataset, workers, batch, num_images, pseudo_collate,
                                         device=device))
    rate = out['cpu_pipeline']['images_per_s']
    if step_images_per_s:
        out['step_images_per_s'] = step_images_per_s
        out['cpu_pipeline_feeds_the_step'] = rate >= step_images_per_s
        # the share of each step the GPU would wait if the loader were the bottleneck
        out['data_wait_fraction_estimate'] = max(0.0, 1 - rate / step_images_per_s)
    if tiny or not out.get('cpu_pipeline_feeds_the_step', True):
        mean, std = cfg.data_preprocessor['mean'], cfg.data_preprocessor['std']
        gen = np.random.default_rng(0)
        seen = {}

        def consume(jpegs):
            tensors = [torch.frombuffer(bytearray(b), dtype=torch.uint8) for b in jpegs]
            seen['last'] = device_decode_batch(tensors, size, device, mean, std, gen)

        lever = _loader_rate(_JpegBytes(paths), workers, batch, num_images, list,
                             consume=consume, device=device)
        lever['output_shape'] = list(seen['last'].shape)
        out['device_decode'] = lever
        if step_images_per_s:
            # decoding shares the GPU with the step: the share of GPU time it takes
            out['device_decode']['gpu_time_share_at_step_rate'] = (step_images_per_s /
                                                                   lever['images_per_s'])
    return out


KERNEL_CATEGORIES = (
    ('attention', ('flash', 'fmha', 'attention', 'sdpa')),
    ('matmul', ('gemm', 'nvjet', 'cutlass', 'sm90', 'sm100', 'matmul', 'mm_', 'addmm', 'linear')),
    ('triton (fused element-wise)', ('triton',)),
    ('optimizer', ('adam',)),
    ('norm', ('layer_norm', 'layernorm')),
    ('copy / cast', ('copy', 'cast', 'to_copy', 'fill')),
)


def kernel_category(name: str) -> str:
    low = name.lower()
    for category, keys in KERNEL_CATEGORIES:
        if any(k in low for k in keys):
            return category
    return 'other element-wise'


def profile_step(model, optim_wrapper, data, device: str, steps: int = 3,
                 top: int = 15) -> dict:
    """The top kernels of ``steps`` train steps (by self device time on a GPU, self CPU time on
    the CPU), and the time by kernel category."""
    from torch.profiler import ProfilerActivity, profile
    activities = [ProfilerActivity.CPU]
    if device.startswith('cuda'):
        activities.append(ProfilerActivity.CUDA)
    with flash_attention(device):
        model.train_step(data, optim_wrapper)  # warm (compiled already by the step section)
        with profile(activities=activities) as prof:
            for _ in range(steps):
                model.train_step(data, optim_wrapper)
            if device.startswith('cuda'):
                torch.cuda.synchronize()
    key = 'self_device_time_total' if device.startswith('cuda') else 'self_cpu_time_total'
    events = [e for e in prof.key_averages() if getattr(e, key, 0) > 0]
    if device.startswith('cuda'):  # kernels only (no CPU-side operator rows)
        events = [e for e in events
                  if getattr(e, 'device_type', None) == torch.autograd.DeviceType.CUDA]
    total = sum(getattr(e, key) for e in events) or 1.0
    events.sort(key=lambda e: getattr(e, key), reverse=True)
    kernels = [dict(name=e.key[:120], time_ms_per_step=getattr(e, key) / 1e3 / steps,
                    share=getattr(e, key) / total, calls_per_step=e.count / steps,
                    category=kernel_category(e.key)) for e in events[:top]]
    by_category: Dict[str, float] = {}
    for e in events:
        cat = kernel_category(e.key)
        by_category[cat] = by_category.get(cat, 0.0) + getattr(e, key) / total
    return dict(time_kind=key, steps=steps, total_ms_per_step=total / 1e3 / steps,
                top_kernels=kernels,
                share_by_category=dict(sorted(by_category.items(), key=lambda kv: -kv[1])))


def run_section(report: dict, name: str, budget: Budget, needs_s: float,
                fn: Callable[[], object]) -> Optional[object]:
    """Run one section, recording its result, its error or its skip; never raises."""
    entry = report['sections'].setdefault(name, {})
    if budget.left() < needs_s:
        entry.update(status='skipped', reason=f'{budget.left():.0f} s of the budget left, '
                     f'needs about {needs_s:.0f} s')
        return None
    start = time.monotonic()
    print(f'[gpu_report] {name} ({budget.left():.0f} s of the budget left)', flush=True)
    try:
        result = fn()
        entry.update(status='ok', result=result)
        return result
    except Exception as err:  # one failed measurement must not stop the others
        entry.update(status='error', error=f'{type(err).__name__}: {err}'[:2000],
                     traceback=traceback.format_exc()[-4000:])
        return None
    finally:
        entry['seconds'] = time.monotonic() - start
        print(f"[gpu_report] {name}: {entry['status']} in {entry['seconds']:.0f} s", flush=True)
        free_memory()


def run_report(configs: Dict[str, str], device: str = 'cuda', tiny: bool = False,
               batch: int = 256, large_batch: int = 256, iters: int = 10, warmup: int = 3,
               budget_s: float = 480, workers: Optional[int] = None,
               data_images: int = 4096, compile_opts=True, out_dir: str = 'gpu_report') -> dict:
    """Measure every section and write ``report.json`` and ``report.md`` into ``out_dir``.
    ``configs`` are the MAE config files of each of :data:`MODELS` (the ViT-B config's train
    dataset is the data section's pipeline)."""
    missing = [name for name in MODELS if name not in configs]
    if missing:
        raise ValueError(f'run_report: configs needs a config file for {missing}')
    budget = Budget(budget_s)
    workers = workers if workers is not None else (os.cpu_count() or 1)
    report = dict(date=time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime()), device=device,
                  device_name=(torch.cuda.get_device_name() if device.startswith('cuda')
                               else f'CPU, {os.cpu_count()} cores'),
                  torch=torch.__version__, cuda=torch.version.cuda, tiny=tiny,
                  batch_size=batch, iters=iters, warmup=warmup, budget_s=budget_s,
                  cpu_count=os.cpu_count(), load_average_start=os.getloadavg(), sections={})
    if device.startswith('cuda'):
        torch.backends.cuda.matmul.allow_tf32 = True
    peak = device_peak_flops(device, torch.bfloat16)
    report.update(peak_tflops=peak['peak_flops'] / 1e12, peak_source=peak['peak_source'],
                  peak_table_tflops={k: v['bfloat16'] / 1e12 for k, v in GPU_PEAK_FLOPS.items()})
    # seconds each section needs at least on an H100/H200 (compile dominates), or on the CPU
    # with tiny models
    need = (dict(step=5, compile=20, peer=10, large=10, data=10, profile=5) if tiny else
            dict(step=30, compile=150, peer=40, large=60, data=60, profile=30))
    kept: dict = {}
    eager = run_section(report, 'vit-b', budget, need['step'], lambda: measure_mimlab(
        mae_cfg(configs['vit-b'], tiny), batch, device, iters, warmup, peak))
    compiled = run_section(report, 'vit-b-compile', budget, need['compile'], lambda: measure_mimlab(
        mae_cfg(configs['vit-b'], tiny, compile_opts), batch, device, iters, warmup, peak,
        keep=kept))
    if kept:
        run_section(report, 'profile', budget, need['profile'], lambda: profile_step(
            kept['model'], kept['optim_wrapper'], kept['data'], device))
        kept.clear()
        free_memory()
    peer = run_section(report, 'peer', budget, need['peer'], lambda: measure_peer(
        batch, device, iters, warmup, peak, tiny))
    best = max((r for r in (eager, compiled) if r), key=lambda r: r['images_per_s'],
               default=None)
    if peer and best:
        report['ratio_to_mmpretrain'] = dict(
            best=best['images_per_s'] / peer['images_per_s'],
            eager=eager['images_per_s'] / peer['images_per_s'] if eager else None,
            compiled=compiled['images_per_s'] / peer['images_per_s'] if compiled else None)
    for name in ('vit-l', 'vit-h'):
        run_section(report, name, budget, need['large'], lambda name=name: measure_large(
            configs[name], large_batch, device, max(3, iters // 2), warmup, peak, tiny))
    run_section(report, 'data', budget, need['data'], lambda: measure_data(
        configs['vit-b'], best['images_per_s'] if best else None, workers, batch, data_images,
        device, tiny))
    report['load_average_end'] = os.getloadavg()
    report['seconds_used'] = budget_s - budget.left()
    os.makedirs(out_dir, exist_ok=True)
    with open(osp.join(out_dir, 'report.json'), 'w') as f:
        json.dump(report, f, indent=2, default=str)
    with open(osp.join(out_dir, 'report.md'), 'w') as f:
        f.write(markdown(report))
    return report


def _step_row(label: str, r: dict) -> str:
    return (f"| {label} | {r['batch_size']} | {r['images_per_s']:.0f} | "
            f"{r['flops_per_image'] / 1e9:.1f} | {r['achieved_tflops']:.1f} | "
            f"{r['mfu'] * 100:.1f} % | {r['peak_memory_gib']:.1f} |")


def markdown(report: dict) -> str:
    """The report as markdown tables (what goes into docs/performance.md)."""
    lines = [f"# GPU report: {report['device_name']}, {report['date']}", '',
             f"torch {report['torch']} (CUDA {report['cuda']}); peak {report['peak_tflops']:.1f} "
             f"TFLOP/s ({report['peak_source']}); {report['iters']} timed steps after "
             f"{report['warmup']} warm-up; {report['seconds_used']:.0f} s of a "
             f"{report['budget_s']:.0f} s budget.", '',
             '| run | batch | images/s | GFLOP/image (fwd+bwd) | TFLOP/s | MFU | peak GiB |',
             '|---|---|---|---|---|---|---|']
    sections = report['sections']
    labels = dict([('vit-b', 'mimlab MAE ViT-B/16, bf16, fused AdamW, flash SDPA, eager'),
                   ('vit-b-compile', 'same, model compiled'),
                   ('peer', 'mmpretrain 1.2.0, same model, its AmpOptimWrapper (bf16)')])
    for key, label in labels.items():
        if sections.get(key, {}).get('status') == 'ok':
            lines.append(_step_row(label, sections[key]['result']))
    for key, label in (('vit-l', 'MAE ViT-L/16'), ('vit-h', 'MAE ViT-H/14')):
        if sections.get(key, {}).get('status') == 'ok':
            for mode, r in sections[key]['result'].items():
                if r.get('fits'):
                    lines.append(_step_row(f'{label}, {mode}', r))
                else:
                    lines.append(f"| {label}, {mode} | - | does not fit: {r.get('error')} "
                                 '| | | | |')
    ratio = report.get('ratio_to_mmpretrain')
    if ratio:
        lines += ['', f"mimlab / mmpretrain images/s: best {ratio['best']:.2f}x"
                  + (f", eager {ratio['eager']:.2f}x" if ratio['eager'] else '')
                  + (f", compiled {ratio['compiled']:.2f}x" if ratio['compiled'] else '')]
    data = sections.get('data', {})
    if data.get('status') == 'ok':
        d = data['result']
        cpu = d['cpu_pipeline']
        lines += ['', '| data path | workers | images/s | against the step |', '|---|---|---|---|',
                  f"| JPEG pipeline on the CPU ({d['crop_size']} px crops) | {cpu['workers']} | "
                  f"{cpu['images_per_s']:.0f} | "
                  + (f"{cpu['images_per_s'] / d['step_images_per_s']:.2f}x the step rate, "
                     f"data wait ~{d['data_wait_fraction_estimate'] * 100:.0f} % |"
                     if 'step_images_per_s' in d else '- |')]
        if 'device_decode' in d:
            g = d['device_decode']
            lines.append(f"| bytes from workers, decode_jpeg + crop/flip/normalise on "
                         f"{report['device']} | {g['workers']} | {g['images_per_s']:.0f} | "
                         + (f"{g['gpu_time_share_at_step_rate'] * 100:.0f} % of GPU time at "
                            'the step rate |' if 'gpu_time_share_at_step_rate' in g else '- |'))
    prof = sections.get('profile', {})
    if prof.get('status') == 'ok':
        p = prof['result']
        lines += ['', f"Compiled step, {p['total_ms_per_step']:.1f} ms of kernels per step "
                  f"({p['time_kind']}); by category: "
                  + ', '.join(f'{k} {v * 100:.0f} %' for k, v in p['share_by_category'].items()),
                  '', '| kernel | category | ms / step | share | calls / step |',
                  '|---|---|---|---|---|']
        lines += [f"| `{k['name'][:80]}` | {k['category']} | {k['time_ms_per_step']:.2f} | "
                  f"{k['share'] * 100:.1f} % | {k['calls_per_step']:.0f} |"
                  for k in p['top_kernels']]
    problems = [f"- {name}: {s['status']}: {s.get('error') or s.get('reason')}"
                for name, s in sections.items() if s.get('status') != 'ok']
    if problems:
        lines += ['', 'Not measured:'] + problems
    return '\n'.join(lines) + '\n'
