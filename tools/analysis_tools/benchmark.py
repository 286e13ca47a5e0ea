"""Measure a pretraining config: train-step throughput, peak memory, FLOPs, MFU, and the data
pipeline's images/s per worker.

    python tools/analysis_tools/benchmark.py CONFIG [--batch-size N] [--iters N] [--warmup N]
        [--amp {fp16,bf16}] [--compile] [--device cpu|cuda] [--threads N] [--mask-ratio R]
        [--img-size N] [--with-cp] [--data-root DIR] [--data-images N] [--no-data]
        [--peak-tflops X] [--cfg-options k=v ...] [--out FILE.json]

What is measured, and how: :mod:`mimlab.experiments.benchmark`; this file parses the command
line.
"""
import argparse

import torch
from mmengine.config import DictAction

from mimlab.engine.errors import one_line_errors
from mimlab.experiments.benchmark import benchmark_config, run_benchmark
from mimlab.experiments.cli import save_result


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
                        help='the device peak for MFU, in TFLOP/s (default: the GPU data '
                        "sheet's, on the CPU a measured dense matmul)")
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    parser.add_argument('--out', help='write the results as JSON here')
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    with one_line_errors():
        cfg = benchmark_config(args.config, args.cfg_options, args.mask_ratio, args.img_size,
                               args.with_cp, args.amp, args.device, args.fused_adamw)
    results = run_benchmark(
        cfg, args.config, args.device, args.amp, args.compile, data=not args.no_data,
        data_root=args.data_root, data_images=args.data_images, batch_size=args.batch_size,
        iters=args.iters, warmup=args.warmup, peak_tflops=args.peak_tflops)
    if args.out:
        save_result(args.out, results, indent=2, default=str)
    return results


if __name__ == '__main__':
    main()
