"""Measure a pretraining config: train-step throughput, peak memory, FLOPs, MFU, and the data
pipeline's images/s per worker.

    python tools/analysis_tools/benchmark.py CONFIG [--batch-size N] [--iters N] [--warmup N]
        [--amp {fp16,bf16}] [--compile] [--device cpu|cuda] [--threads N] [--mask-ratio R]
        [--img-size N] [--with-cp] [--data-root DIR] [--data-images N] [--no-data]
        [--peak-tflops X] [--cfg-options k=v ...] [--out FILE.json]

The step is ``model.train_step`` (data preprocessing, forward, backward, optimizer step) on random
uint8 images of the config's size; FLOPs per image are counted by ``torch.utils.flop_counter``
(forward + backward) on the eager model; MFU is achieved FLOP/s over the device's peak (a GPU's
data sheet, or on the CPU a measured dense matmul at the same thread count). The data pipeline
is the config's ``train_dataloader.dataset`` (with ``--data-root``; for a folder that does not
exist here, a folder of ImageNet-sized JPEGs is written to a temporary directory) read by one
process, then collated and normalised by the model's data preprocessor.
"""
import argparse
import os
import os.path as osp
import tempfile
from typing import Dict, Optional

import cv2
import torch
from mmengine.config import Config, DictAction
from mmengine.dataset import pseudo_collate
from mmengine.optim import build_optim_wrapper
from mmengine.registry import FUNCTIONS, init_default_scope
from mmengine.structures import BaseDataElement

from mimlab.experiments.cli import save_result
from mimlab.datasets.jpeg_folder import write_jpeg_folder
from mimlab.engine.errors import one_line_errors
from mimlab.engine.optimizers import set_amp
from mimlab.registry import DATASETS, MODELS
from mimlab.utils.profiling import (device_peak_flops, pipeline_benchmark, random_images,
                                    train_step_benchmark)

AMP_DTYPES = {'bf16': torch.bfloat16, 'fp16': torch.float16, None: torch.float32}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('--batch-size', type=int, help="default: the config's train batch")
    parser.add_argument('--iters', type=int, default=5, help='timed steps')
    parser.add_argument('--warmup', type=int, default=2, help='untimed steps first')
    parser.add_argument('--amp', choices=['fp16', 'bf16'], help='mixed precision')
    parser.add_argument('--compile', action='store_true', help='torch.compile the model')
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--threads', type=int, help='torch CPU threads (default: as set)')
    parser.add_argument('--mask-ratio', type=float, help="override the backbone's mask_ratio")
    parser.add_argument('--img-size', type=int, help="override the backbone's img_size")
    parser.add_argument('--with-cp', action='store_true', help='activation checkpointing')
    parser.add_argument('--fused-adamw', action='store_true',
                        help='AdamW(fused=True) (the GPU configs set it)')
    parser.add_argument('--data-root', help='images for the data-pipeline measurement')
    parser.add_argument('--data-images', type=int, default=128,
                        help='images through the pipeline (0: skip it)')
    parser.add_argument('--no-data', action='store_true', help='skip the data pipeline')
    parser.add_argument('--peak-tflops', type=float,
                        help='the device peak for MFU, in TFLOP/s (default: see the docstring)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    parser.add_argument('--out', help='write the results as JSON here')
    return parser.parse_args(argv)


def load_cfg(args: argparse.Namespace) -> Config:
    if not osp.isfile(args.config):
        raise SystemExit(f'config file {args.config} does not exist')
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    backbone = cfg.model.backbone
    if args.mask_ratio is not None:
        backbone.mask_ratio = args.mask_ratio
    if args.img_size is not None:
        backbone.img_size = args.img_size
    if args.with_cp:
        backbone.with_cp = True
    set_amp(cfg.optim_wrapper, args.amp, args.device)
    if args.fused_adamw:
        cfg.optim_wrapper.optimizer.fused = True
    return cfg


def measure_model(cfg: Config, args: argparse.Namespace) -> Dict[str, object]:
    model = MODELS.build(cfg.model).to(args.device)
    model.train()
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    img_size = cfg.model.backbone.get('img_size', 224)
    batch_size = args.batch_size or cfg.train_dataloader.batch_size
    data = dict(inputs=random_images(batch_size, img_size, model.backbone.in_chans),
                data_samples=[BaseDataElement() for _ in range(batch_size)])
    eager_forward = model.forward
    if args.compile:
        model.forward = torch.compile(model.forward)

    def flops_fn():  # counted on the eager model: compiled kernels hide their ops
        batch = model.data_preprocessor(data, True)
        with optim_wrapper.optim_context(model):
            losses = eager_forward(**batch, mode='loss')
        sum(v for k, v in losses.items() if 'loss' in k).backward()
        optim_wrapper.zero_grad()

    result = train_step_benchmark(model, optim_wrapper, data, args.iters, args.warmup,
                                  args.device, flops_fn=flops_fn)
    dtype = AMP_DTYPES[args.amp]
    if args.peak_tflops:
        peak = dict(peak_flops=args.peak_tflops * 1e12, peak_source='--peak-tflops')
    else:
        peak = device_peak_flops(args.device, dtype)
    result.update(peak)
    result['mfu'] = result['achieved_flops'] / peak['peak_flops']
    result.update(batch_size=batch_size, img_size=img_size,
                  mask_ratio=cfg.model.backbone.get('mask_ratio'),
                  params=sum(p.numel() for p in model.parameters()))
    return result


def measure_data(cfg: Config, args: argparse.Namespace) -> Optional[dict]:
    dataset_cfg = cfg.train_dataloader.dataset.copy()
    root = args.data_root or dataset_cfg.get('data_root')
    note = None
    if root is None or not osp.isdir(root):
        root = tempfile.mkdtemp(prefix='mimlab_jpegs_')
        write_jpeg_folder(root, num_images=min(args.data_images, 64))
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
        result = pipeline_benchmark(dataset, args.data_images, collate=collate,
                                    preprocess=lambda b: preprocessor(b, True))
    finally:
        torch.set_num_threads(threads)
    result['data_root'] = root
    if note:
        result['note'] = note
    return result


def format_table(results: dict) -> str:
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


def main(argv=None) -> dict:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    with one_line_errors():
        cfg = load_cfg(args)
    init_default_scope(cfg.get('default_scope', 'mimlab'))
    results = dict(config=args.config, device=args.device,
                   device_name=(torch.cuda.get_device_name() if args.device.startswith('cuda')
                                else f'CPU, {os.cpu_count()} cores visible'),
                   threads=torch.get_num_threads(), amp=args.amp, compile=args.compile,
                   torch=torch.__version__)
    results['train_step'] = measure_model(cfg, args)
    if not args.no_data and args.data_images > 0:
        results['data_pipeline'] = measure_data(cfg, args)
    print(format_table(results), flush=True)
    if args.out:
        save_result(args.out, results, indent=2, default=str)
    return results


if __name__ == '__main__':
    main()
