"""Time the training step of a config: forward, backward and optimizer step on one real batch.

    python tools/analysis_tools/step_time.py CONFIG [--cfg-options ...] [--iters 20] \
        [--warmup 3] [--batch-size N] [--out step_time.json]

Reports CPU seconds per step (``time.process_time``: what the step costs, much less disturbed
than wall time when other jobs share the cores) and wall seconds per step, after ``--warmup``
untimed steps, with torch's current thread count (set ``OMP_NUM_THREADS``).
"""
import argparse
import time

import torch
from mmengine.config import DictAction
from mmengine.dataset import pseudo_collate
from mmengine.optim import build_optim_wrapper

from mimlab.apis import init_model, load_config
from mimlab.experiments.cli import print_result
from mimlab.registry import DATASETS


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('--iters', type=int, default=20)
    parser.add_argument('--warmup', type=int, default=3)
    parser.add_argument('--batch-size', type=int, help="default: the train dataloader's")
    parser.add_argument('--out', help='write the result as JSON')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    args = parser.parse_args(argv)

    cfg = load_config(args.config, args.cfg_options)
    torch.manual_seed(0)
    model = init_model(cfg).train()
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    batch_size = args.batch_size or cfg.train_dataloader.batch_size
    dataset = DATASETS.build(dict(cfg.train_dataloader.dataset, indices=batch_size))
    batch = pseudo_collate([dataset[i] for i in range(batch_size)])

    for _ in range(args.warmup):
        model.train_step(batch, optim_wrapper)
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(args.iters):
        model.train_step(batch, optim_wrapper)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    result = dict(config=args.config, cfg_options=args.cfg_options or {}, batch_size=batch_size,
                  iters=args.iters, threads=torch.get_num_threads(),
                  cpu_s_per_step=round(cpu / args.iters, 4),
                  wall_s_per_step=round(wall / args.iters, 4))
    print_result(result, args.out)
    return result


if __name__ == '__main__':
    main()
