"""Measure a pretraining config: train-step throughput, peak memory, FLOPs, MFU, and the data
pipeline's images/s per worker (``tools/analysis_tools/benchmark.py`` is its command line).

The step is ``model.train_step`` (data preprocessing, forward, backward, optimizer step) on random
uint8 images of the config's size; FLOPs per image are counted by ``torch.utils.flop_counter``
(forward + backward) on the eager model; MFU is achieved FLOP/s over the device's peak (a GPU's
data sheet, or on the CPU a measured dense matmul at the same thread count). The data pipeline
is the config's ``train_dataloader.dataset`` (with ``--data-root``; for a folder that does not
exist here, a folder of ImageNet-sized JPEGs is written to a temporary directory) read by one
process, then collated and normalised by the model's data preprocessor.
"""
import os
import os.path as osp
import tempfile
from typing import Any, Dict, Optional

import cv2
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.optim import build_optim_wrapper
from mmengine.registry import FUNCTIONS, init_default_scope
from mmengine.structures import BaseDataElement

from mimlab.datasets.jpeg_folder import write_jpeg_folder
from mimlab.engine.errors import ConfigError
from mimlab.engine.optimizers import set_amp
from mimlab.registry import DATASETS, MODELS
from mimlab.utils.profiling import (device_peak_flops, pipeline_benchmark, random_images,
                                    train_step_benchmark)

AMP_DTYPES = {'bf16': torch.bfloat16, 'fp16': torch.float16, None: torch.float32}


def benchmark_config(config: str, cfg_options: Optional[Dict[str, Any]] = None,
                     mask_ratio: Optional[float] = None, img_size: Optional[int] = None,
                     with_cp: bool = False, amp: Optional[str] = None, device: str = 'cpu',
                     fused_adamw: bool = False) -> Config:
    """The config file with the benchmark's overrides: the backbone's ``mask_ratio``,
    ``img_size`` and activation checkpointing, mixed precision (:func:`set_amp`) and a fused
    AdamW."""
    if not osp.isfile(config):
        raise ConfigError(f'config file {config} does not exist')
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    backbone = cfg.model.backbone
    if mask_ratio is not None:
        backbone.mask_ratio = mask_ratio
    if img_size is not None:
        backbone.img_size = img_size
    if with_cp:
        backbone.with_cp = True
    set_amp(cfg.optim_wrapper, amp, device)
    if fused_adamw:
        cfg.optim_wrapper.optimizer.fused = True
    return cfg


def measure_model(cfg: Config, device: str = 'cpu', batch_size: Optional[int] = None,
                  iters: int = 5, warmup: int = 2, amp: Optional[str] = None,
                  compile: bool = False, peak_tflops: Optional[float] = None
                  ) -> Dict[str, object]:
    """The train step on random uint8 images of the config's size (``batch_size``, default the
    config's train batch): times, FLOPs per image (counted on the eager model), MFU against
    ``peak_tflops`` or the device's peak (:func:`device_peak_flops`), memory."""
    model = MODELS.build(cfg.model).to(device)
    model.train()
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    img_size = cfg.model.backbone.get('img_size', 224)
    batch_size = batch_size or cfg.train_dataloader.batch_size
    data = dict(inputs=random_images(batch_size, img_size, model.backbone.in_chans),
                data_samples=[BaseDataElement() for _ in range(batch_size)])
    eager_forward = model.forward
    if compile:
        model.forward = torch.compile(model.forward)

    def flops_fn():  # counted on the eager model: compiled kernels hide their ops
        batch = model.data_preprocessor(data, True)
        with optim_wrapper.optim_context(model):
            losses = eager_forward(**batch, mode='loss')
        sum(v for k, v in losses.items() if 'loss' in k).backward()
        optim_wrapper.zero_grad()

    result = train_step_benchmark(model, optim_wrapper, data, iters, warmup, device,
                                  flops_fn=flops_fn)
    if peak_tflops:
        peak = dict(peak_flops=peak_tflops * 1e12, peak_source='--peak-tflops')
    else:
        peak = device_peak_flops(device, AMP_DTYPES[amp])
    result.update(peak)
    result['mfu'] = result['achieved_flops'] / peak['peak_flops']
    result.update(batch_size=batch_size, img_size=img_size,
                  mask_ratio=cfg.model.backbone.get('mask_ratio'),
                  params=sum(p.numel() for p in model.parameters()))
    return result


def measure_data(cfg: Config, data_root: Optional[str] = None, data_images: int = 128) -> dict:
    """The config's train dataset read by one process (from ``data_root``; a folder of
    ImageNet-sized JPEGs written to a temporary directory when that is not here), collated and
    normalised by the model's data preprocessor: images/s."""
    dataset_cfg = cfg.train_dataloader.dataset.copy()
    root = data_root or dataset_cfg.get('data_root')
    note = None
    if root is None or not osp.isdir(root):
        root = tempfile.mkdtemp(prefix='mimlab_jpegs_')
        write_jpeg_folder(root, num_images=min(data_images, 64))
        note = f'{dataset_cfg.get("data_root")} not found: ImageNet-sized JPEGs written to {root}'
    dataset_cfg.data_root = root
    dataset = DATASETS.build(dataset_cfg)
    collate_cfg = cfg.train_dataloader.get('collate_fn', dict(type='pseudo_collate'))
    collate = FUNCTIONS.get(collate_cfg['type']) if collate_cfg else pseudo_collate
    preprocessor = MODELS.build(cfg.model.get('data_preprocessor') or
                                cfg.get('data_preprocessor'))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one worker: one core
    cv2.setNumThreads(1)
    try:
        result = pipeline_benchmark(dataset, data_images, collate=collate,
                                    preprocess=lambda b: preprocessor(b, True))
    finally:
        torch.set_num_threads(threads)
    result['data_root'] = root
    if note:
        result['note'] = note
    return result


def format_table(results: dict) -> str:
    """The figures of :func:`run_benchmark` as two aligned columns."""
    rows = []
    step = results.get('train_step')
    if step:
        rows += [
            ('train step (fwd+bwd+optimizer)', f"{step['step_s_median'] * 1e3:.1f} ms "
             f"(min {step['step_s_min'] * 1e3:.1f}, max {step['step_s_max'] * 1e3:.1f})"),
            ('throughput', f"{step['images_per_s']:.2f} images/s at batch {step['batch_size']}"),
            ('FLOPs per image (fwd+bwd)', f"{step['flops_per_image'] / 1e9:.2f} GFLOP"),
            ('achieved', f"{step['achieved_flops'] / 1e12:.3f} TFLOP/s"),
            ('MFU', f"{step['mfu'] * 100:.1f} % of {step['peak_flops'] / 1e12:.2f} TFLOP/s "
             f"({step['peak_source']})"),
            ('peak memory', f"{step['peak_memory_bytes'] / 2 ** 20:.0f} MiB "
             f"({step['memory_kind']})"),
        ]
    data = results.get('data_pipeline')
    if data:
        rows += [('data: decode + transforms', f"{data['load_images_per_s']:.1f} images/s "
                  '(one worker)'),
                 ('data: + collate + normalise', f"{data['images_per_s']:.1f} images/s")]
    width = max(len(r[0]) for r in rows)
    return '\n'.join(f'{name:<{width}}  {value}' for name, value in rows)


def run_benchmark(cfg: Config, config: str, device: str = 'cpu', amp: Optional[str] = None,
                  compile: bool = False, data: bool = True, data_root: Optional[str] = None,
                  data_images: int = 128, **step) -> dict:
    """Measure the step (:func:`measure_model`, with ``step``'s options) and, with ``data``,
    the data pipeline (:func:`measure_data`) of ``cfg`` (from :func:`benchmark_config` on the
    file ``config``); print the table and return the figures."""
    init_default_scope(cfg.get('default_scope', 'mimlab'))
    results = dict(config=config, device=device,
                   device_name=(torch.cuda.get_device_name() if device.startswith('cuda')
                                else f'CPU, {os.cpu_count()} cores visible'),
                   threads=torch.get_num_threads(), amp=amp, compile=compile,
                   torch=torch.__version__)
    results['train_step'] = measure_model(cfg, device, amp=amp, compile=compile, **step)
    if data and data_images > 0:
        results['data_pipeline'] = measure_data(cfg, data_root, data_images)
    print(format_table(results), flush=True)
    return results
