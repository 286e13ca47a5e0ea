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
              batch_size: Optional[int] = None, compile_backend: Optional[str] = None,
              profile_rows: int = 0) -> dict:
    """Seconds per step of ``cfg``'s model on the first ``batch_size`` images of its train set
    (default: the train dataloader's batch size), seeded with 0. With ``compile_backend`` (a
    ``torch.compile`` backend, e.g. 'inductor'), the model's loss is compiled; the first
    warm-up step, which compiles it, is reported as ``first_step_s``. With ``profile_rows``,
    ``iters`` more steps run under torch's profiler, and ``profile`` holds its table of the
    operators with the most self CPU time (that many rows)."""
    torch.manual_seed(0)
    model = init_model(cfg).train()
    if compile_backend:
        model.loss = torch.compile(model.loss, backend=compile_backend)
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    batch_size = batch_size or cfg.train_dataloader.batch_size
    dataset = DATASETS.build(dict(cfg.train_dataloader.dataset, indices=batch_size))
    batch = pseudo_collate([dataset[i] for i in range(batch_size)])

    first = time.perf_counter()
    for i in range(max(warmup, 1)):
        losses = model.train_step(batch, optim_wrapper)
        if i == 0:
            first, first_loss = time.perf_counter() - first, float(losses['loss'].detach())
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(iters):
        model.train_step(batch, optim_wrapper)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    profile = {}
    if profile_rows:
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
            for _ in range(iters):
                model.train_step(batch, optim_wrapper)
        profile['profile'] = prof.key_averages().table(sort_by='self_cpu_time_total',
                                                      row_limit=profile_rows)
    return dict(batch_size=batch_size, iters=iters, threads=torch.get_num_threads(),
                compile_backend=compile_backend, first_step_s=round(first, 3),
                first_loss=first_loss, cpu_s_per_step=round(cpu / iters, 4),
                wall_s_per_step=round(wall / iters, 4), **profile)
