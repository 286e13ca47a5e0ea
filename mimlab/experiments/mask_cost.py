"""How MAE's cost grows: train-step time and FLOPs against mask ratio and image size
(``tools/analysis_tools/mask_cost.py`` is its command line).

For each image size and mask ratio the model of a config is built and its step
(``model.train_step``: forward, backward, AdamW) is timed and its FLOPs counted by
``torch.utils.flop_counter``, split into the encoder (``backbone``, counted alone) and the rest
(decoder and loss). Writes ``mask_cost.json``, ``mask_cost.md`` (a table) and ``mask_cost.png``.
"""
import json
import os
import os.path as osp

import torch
from matplotlib.figure import Figure
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmengine.structures import BaseDataElement

from mimlab.registry import MODELS
from mimlab.utils.profiling import count_flops, random_images, summarize_times, time_steps


def measure(cfg: Config, img_size: int, mask_ratios, batch_size: int, iters: int,
            warmup: int) -> list:
    """One row per mask ratio at ``img_size``: step time, FLOPs of the encoder and the rest."""
    rows = []
    for ratio in mask_ratios:
        # built with its size and ratio, so that the backbone validates them
        torch.manual_seed(0)
        model = MODELS.build(dict(cfg.model, backbone=dict(cfg.model.backbone, img_size=img_size,
                                                           mask_ratio=ratio)))
        model.train()
        optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
        data = dict(inputs=random_images(batch_size, img_size, model.backbone.in_chans),
                    data_samples=[BaseDataElement() for _ in range(batch_size)])

        def forward_backward():
            batch = model.data_preprocessor(data, True)
            losses = model(**batch, mode='loss')
            sum(v for k, v in losses.items() if 'loss' in k).backward()
            optim_wrapper.zero_grad()

        def encoder_forward_backward():
            inputs = model.data_preprocessor(data, True)['inputs']
            model.backbone.forward_masked(inputs).tokens.sum().backward()
            optim_wrapper.zero_grad()

        flops = count_flops(forward_backward)
        # the encoder counted on its own: torch's counter attributes backward FLOPs to modules
        # unreliably, its totals are exact
        encoder = count_flops(encoder_forward_backward)['total']
        times = time_steps(lambda: model.train_step(data, optim_wrapper), iters, warmup)
        timing = summarize_times(times, batch_size)
        num_patches = model.backbone.patch_embed.num_patches
        rows.append(dict(
            img_size=img_size, mask_ratio=ratio, num_patches=num_patches,
            visible=num_patches - int(round(num_patches * ratio)), batch_size=batch_size,
            step_s=timing['step_s_median'], images_per_s=timing['images_per_s'],
            step_cpu_s=timing['step_cpu_s_median'],
            gflops_per_image=flops['total'] / batch_size / 1e9,
            encoder_gflops_per_image=encoder / batch_size / 1e9))
        rows[-1]['rest_gflops_per_image'] = (rows[-1]['gflops_per_image'] -
                                             rows[-1]['encoder_gflops_per_image'])
        print(f"{img_size} px, mask {ratio:.1f}: {timing['step_s_median']:.2f} s/step, "
              f"{timing['step_cpu_s_median']:.2f} CPU-s/step (batch {batch_size}), "
              f"{rows[-1]['gflops_per_image']:.1f} GFLOP/image "
              f"(encoder {rows[-1]['encoder_gflops_per_image']:.1f})", flush=True)
    return rows


def table(rows: list) -> str:
    """The rows of :func:`measure` as a markdown table."""
    lines = ['| image | mask ratio | visible patches | step (s) | step (CPU-s, all threads) | '
             'GFLOP/image (fwd+bwd) | encoder | decoder + loss |',
             '|---|---|---|---|---|---|---|---|']
    for r in rows:
        lines.append(f"| {r['img_size']} | {r['mask_ratio']:.1f} | {r['visible']} / "
                     f"{r['num_patches']} | {r['step_s']:.2f} | {r['step_cpu_s']:.2f} | "
                     f"{r['gflops_per_image']:.1f} | {r['encoder_gflops_per_image']:.1f} | "
                     f"{r['rest_gflops_per_image']:.1f} |")
    return '\n'.join(lines)


def plot(rows: list, path: str) -> None:
    """Step time and FLOPs per image against the mask ratio, one line per image size."""
    fig = Figure(figsize=(10, 4))
    axes = fig.subplots(1, 2)
    for size in sorted({r['img_size'] for r in rows}):
        sub = [r for r in rows if r['img_size'] == size]
        ratios = [r['mask_ratio'] for r in sub]
        axes[0].plot(ratios, [r['step_s'] / r['batch_size'] for r in sub], 'o-',
                     label=f'{size} px, wall clock')
        axes[0].plot(ratios, [r['step_cpu_s'] / r['batch_size'] for r in sub], 's--',
                     label=f'{size} px, CPU time (all threads)')
        axes[1].plot(ratios, [r['encoder_gflops_per_image'] for r in sub], 'o-',
                     label=f'{size} px encoder')
        axes[1].plot(ratios, [r['rest_gflops_per_image'] for r in sub], 's--',
                     label=f'{size} px decoder + loss')
    axes[0].set(xlabel='mask ratio', ylabel='train step, s per image', yscale='log',
                title='step time (fwd + bwd + AdamW)')
    axes[1].set(xlabel='mask ratio', ylabel='GFLOP per image (fwd + bwd)', yscale='log',
                title='counted FLOPs')
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def run_mask_cost(config: str, mask_ratios=(0.5, 0.6, 0.7, 0.8, 0.9), img_sizes=(224, 448),
                  batch_size: int = 2, iters: int = 2, warmup: int = 1,
                  out_dir: str = 'work_dirs/mask_cost') -> list:
    """Measure every image size and mask ratio of the config file, write ``mask_cost.json``,
    ``.md`` and ``.png`` into ``out_dir`` and print the table; returns the rows."""
    torch.manual_seed(0)
    cfg = Config.fromfile(config)
    init_default_scope(cfg.get('default_scope', 'mimlab'))
    rows = []
    for size in img_sizes:
        rows += measure(cfg, size, mask_ratios, batch_size, iters, warmup)
    os.makedirs(out_dir, exist_ok=True)
    with open(osp.join(out_dir, 'mask_cost.json'), 'w') as f:
        json.dump(dict(config=config, threads=torch.get_num_threads(), rows=rows), f, indent=2)
    with open(osp.join(out_dir, 'mask_cost.md'), 'w') as f:
        f.write(table(rows) + '\n')
    plot(rows, osp.join(out_dir, 'mask_cost.png'))
    print(table(rows))
    print(f'written to {out_dir}/mask_cost.{{json,md,png}}')
    return rows
