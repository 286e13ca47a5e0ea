"""The training step of a config timed on one real batch: forward, backward and optimizer step
(``tools/analysis_tools/step_time.py`` is its command line).

CPU seconds per step (``time.process_time``: what the step costs, much less disturbed than wall
time when other jobs share the cores) and wall seconds per step, after untimed warm-up steps,
with torch's current thread count.
"""
import time
from typing import Optional

import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.optim import build_optim_wrapper

from mimlab.apis import init_model
from mimlab.registry import DATASETS


def step_time(cfg: Config, iters: int = 20, warmup: int = 3,
              batch_size: Optional[int] = None) -> dict:
    """Seconds per step of ``cfg``'s model on the first ``batch_size`` images of its train set
    (default: the train dataloader's batch size), seeded with 0."""
    torch.manual_seed(0)
    model = init_model(cfg).train()
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    batch_size = batch_size or cfg.train_dataloader.batch_size
    dataset = DATASETS.build(dict(cfg.train_dataloader.dataset, indices=batch_size))
    batch = pseudo_collate([dataset[i] for i in range(batch_size)])

    for _ in range(warmup):
        model.train_step(batch, optim_wrapper)
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(iters):
        model.train_step(batch, optim_wrapper)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return dict(batch_size=batch_size, iters=iters, threads=torch.get_num_threads(),
                cpu_s_per_step=round(cpu / iters, 4), wall_s_per_step=round(wall / iters, 4))
