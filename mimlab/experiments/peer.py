"""mimlab against mmpretrain 1.2.0 (the peer), side by side in one run
(``tools/analysis_tools/compare_peer.py`` is its command line).

Each measurement runs in a fresh process (so that its peak RSS is its own), and the two
frameworks alternate (A B, B A, A B, ...) so that a change of load on a shared machine hits both;
the reported figure is the median over rounds of the per-round ratio mimlab / mmpretrain.

Cases (the same model size, mask ratio, batch and thread count on both sides; fp32 unless said):
- ``vit-b``: MAE ViT-B/16, 224 px, mask 0.75, decoder 8 x 512 (each side's own MAE config).
- ``tiny``: the demo-size MAE (ViT 6 x 128-d, 4-px patches on 28 px, decoder 1 x 128); mimlab's
  side is the demo config as shipped: bf16 autocast on a CPU with native bf16 (AMX /
  AVX512-BF16), float32 elsewhere; mmpretrain's stays float32 (its AmpOptimWrapper is GPU-only).
- ``data``: each side's MAE training pipeline as its config ships it (JPEG decode,
  RandomResizedCrop 224 scale (0.2, 1), flip, pack), collate and normalisation, one process,
  on a folder of ImageNet-sized JPEGs written from scikit-image's photos. mmpretrain's MAE
  config crops with ``backend='pillow'``; ``data-cv2`` gives the peer OpenCV's resize instead.
A step is ``model.train_step`` (data preprocessing, forward, backward, AdamW step), timed after
warm-up steps. mimlab's config of each case comes in as an argument; the peer's is the one
mmpretrain ships. Needs ``pip install -r requirements/benchmark.txt`` (see that file).

Only the standard library is imported at the top: a worker imports its own framework, so that
the other one does not count in its peak memory.
"""
import dataclasses
import json
import os
import os.path as osp
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from typing import Dict, Optional, Sequence

CASES = ('vit-b', 'tiny', 'data', 'data-cv2')
PEER_CONFIG = 'mae/mae_vit-base-p16_8xb512-amp-coslr-300e_in1k.py'
FRAMEWORKS = ('mimlab', 'mmpretrain')


@dataclass
class PeerSettings:
    """What both sides of every measurement share.

    Args:
        threads: torch threads of a model step (a data case runs on one).
        batch_vit_b / batch_tiny: the batch of the vit-b and tiny cases.
        iters / warmup: timed and untimed steps (default: 5 and 2 for vit-b, 20 and 5 for tiny).
        device: 'cpu' or 'cuda'.
        amp: 'bf16': each side's own bf16 autocast; None: float32.
        data_images: images through a data case's pipeline.
        jpeg_folder: the JPEGs of the data cases.
    """
    threads: int = 2
    batch_vit_b: int = 8
    batch_tiny: int = 256
    iters: Optional[int] = None
    warmup: Optional[int] = None
    device: str = 'cpu'
    amp: Optional[str] = None
    data_images: int = 256
    jpeg_folder: Optional[str] = None


def peer_config():
    """mmpretrain's own MAE ViT-B config (shipped inside the package), fp32 for the CPU."""
    import mmpretrain
    from mmengine.config import Config
    path = osp.join(osp.dirname(mmpretrain.__file__), '.mim', 'configs', PEER_CONFIG)
    cfg = Config.fromfile(path)
    cfg.optim_wrapper.type = 'OptimWrapper'
    cfg.optim_wrapper.pop('loss_scale', None)
    cfg.model.data_preprocessor = cfg.data_preprocessor  # what mmpretrain's train.py does
    return cfg


def tiny_peer_model(cfg) -> None:
    """The demo-size MAE in mmpretrain's terms, matching the mimlab demo config's sizes."""
    cfg.model.backbone.update(arch=dict(embed_dims=128, num_layers=6, num_heads=4,
                                        feedforward_channels=512), img_size=28, patch_size=4)
    cfg.model.neck.update(num_patches=49, patch_size=4, embed_dim=128, decoder_embed_dim=128,
                          decoder_depth=1, decoder_num_heads=4)
    cfg.model.head.patch_size = 4


def build_side(framework: str, case: str, config: str):
    """(config, model registry, data-sample class) of one side, scope set; ``config`` is
    mimlab's config file of the case."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    if framework == 'mimlab':
        from mmengine.structures import BaseDataElement

        from mimlab.registry import MODELS
        init_default_scope('mimlab')
        return Config.fromfile(config), MODELS, BaseDataElement
    from mmpretrain.registry import MODELS
    from mmpretrain.structures import DataSample
    init_default_scope('mmpretrain')
    cfg = peer_config()
    if case == 'tiny':
        tiny_peer_model(cfg)
    return cfg, MODELS, DataSample


def worker_model(framework: str, case: str, config: str, args: PeerSettings) -> dict:
    import torch
    from mmengine.optim import build_optim_wrapper

    from mimlab.engine.optimizers import set_amp
    from mimlab.utils.profiling import random_images, rss_bytes, train_step_benchmark
    torch.manual_seed(0)
    cfg, registry, sample_cls = build_side(framework, case, config)
    batch = args.batch_tiny if case == 'tiny' else args.batch_vit_b
    size = 28 if case == 'tiny' else 224
    if args.amp == 'bf16' and framework == 'mimlab':  # each side's own bf16 path
        set_amp(cfg.optim_wrapper, 'bf16', args.device)
    elif args.amp == 'bf16':
        cfg.optim_wrapper.update(type='AmpOptimWrapper', dtype='bfloat16')
    rss_start = rss_bytes()
    model = registry.build(cfg.model).to(args.device)
    model.train()
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    images = random_images(batch, size)
    # as each side's config collates: mmpretrain stacks (default_collate), mimlab lists
    data = dict(inputs=torch.stack(images) if framework == 'mmpretrain' else images,
                data_samples=[sample_cls() for _ in range(batch)])
    iters = args.iters or (5 if case == 'vit-b' else 20)
    warmup = args.warmup if args.warmup is not None else (2 if case == 'vit-b' else 5)
    result = train_step_benchmark(model, optim_wrapper, data, iters, warmup, args.device)
    result['rss_before_model_bytes'] = rss_start
    result['optimizer'] = repr(cfg.optim_wrapper.optimizer)
    result['params'] = sum(p.numel() for p in model.parameters())
    result['batch_size'] = batch
    result.pop('flops_by_module')
    return result


def worker_data(framework: str, case: str, config: str, args: PeerSettings) -> dict:
    import cv2
    import torch
    from mmengine.registry import DATASETS, FUNCTIONS

    from mimlab.utils.profiling import pipeline_benchmark
    torch.set_num_threads(1)  # one data-loader worker: one core
    cv2.setNumThreads(1)
    cfg, registry, _ = build_side(framework, case, config)
    if framework == 'mimlab':
        dataset_cfg = dict(cfg.train_dataloader.dataset, data_root=args.jpeg_folder)
        preprocessor = registry.build(cfg.model.get('data_preprocessor')
                                      or cfg.data_preprocessor)
    else:
        pipeline = cfg.train_dataloader.dataset.pipeline
        if case == 'data-cv2':
            for t in pipeline:
                if t['type'] == 'RandomResizedCrop':
                    t['backend'] = 'cv2'
        dataset_cfg = dict(type='CustomDataset', data_root=args.jpeg_folder, with_label=False,
                           pipeline=pipeline)
        preprocessor = registry.build(cfg.data_preprocessor)
    dataset = DATASETS.build(dataset_cfg)
    collate_cfg = cfg.train_dataloader.get('collate_fn') or dict(type='pseudo_collate')
    collate = FUNCTIONS.get(collate_cfg['type'])
    result = pipeline_benchmark(dataset, args.data_images, collate=collate,
                                preprocess=lambda b: preprocessor(b, True))
    result['pipeline'] = [t['type'] if isinstance(t, dict) else repr(t)
                          for t in dataset_cfg['pipeline']]
    result['collate'] = collate_cfg['type']
    return result


def run_worker(framework: str, case: str, config: str, args: PeerSettings) -> dict:
    """One measurement in a fresh process (:func:`worker_main`); returns its JSON result."""
    with tempfile.NamedTemporaryFile('w', suffix='.json', delete=False) as f:
        json.dump(dict(framework=framework, case=case, config=config,
                       settings=dataclasses.asdict(args)), f)
        spec = f.name
    out = spec[:-len('.json')] + '.out.json'
    threads = '1' if case.startswith('data') else str(args.threads)
    import mimlab  # the child imports mimlab from where this process did
    root = osp.dirname(osp.dirname(osp.abspath(mimlab.__file__)))
    env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get('PYTHONPATH', ''),
               OMP_NUM_THREADS=threads, MKL_NUM_THREADS=threads)
    proc = subprocess.run([sys.executable, '-m', __name__, spec, out], env=env,
                          capture_output=True, text=True)
    os.unlink(spec)
    if proc.returncode != 0:
        raise RuntimeError(f'{framework} {case} failed:\n{proc.stderr[-3000:]}')
    with open(out) as f:
        result = json.load(f)
    os.unlink(out)
    return result


def worker_main(spec: str, out: str) -> dict:
    """The measurement a JSON ``spec`` of :func:`run_worker` describes, written to ``out``."""
    with open(spec) as f:
        job = json.load(f)
    args = PeerSettings(**job['settings'])
    import torch
    torch.set_num_threads(args.threads)
    worker = worker_data if job['case'].startswith('data') else worker_model
    result = worker(job['framework'], job['case'], job['config'], args)
    with open(out, 'w') as f:
        json.dump(result, f, default=str)
    return result


def summarize(case: str, rounds: list) -> dict:
    key = 'images_per_s'
    speed = [r['mimlab'][key] / r['mmpretrain'][key] for r in rounds]
    summary = dict(case=case, speed_ratio_median=statistics.median(speed), speed_ratios=speed,
                   mimlab_images_per_s=statistics.median(r['mimlab'][key] for r in rounds),
                   mmpretrain_images_per_s=statistics.median(r['mmpretrain'][key]
                                                             for r in rounds))
    if 'images_per_cpu_s' in rounds[0]['mimlab']:
        cpu = [r['mimlab']['images_per_cpu_s'] / r['mmpretrain']['images_per_cpu_s']
               for r in rounds]
        summary.update(cpu_time_ratio_median=statistics.median(cpu), cpu_time_ratios=cpu)
    if 'peak_memory_bytes' in rounds[0]['mimlab']:
        for fw in FRAMEWORKS:
            summary[f'{fw}_peak_rss_mib'] = statistics.median(
                r[fw]['peak_memory_bytes'] / 2 ** 20 for r in rounds)
            # the model's and training's own memory: peak minus the process before the model
            summary[f'{fw}_model_rss_mib'] = statistics.median(
                (r[fw]['peak_memory_bytes'] - r[fw]['rss_before_model_bytes']) / 2 ** 20
                for r in rounds)
            summary[f'{fw}_gflops_per_image'] = rounds[0][fw]['flops_per_image'] / 1e9
    return summary


def print_summary(summary: dict) -> None:
    line = (f"{summary['case']:>6}: mimlab {summary['mimlab_images_per_s']:.2f} images/s, "
            f"mmpretrain {summary['mmpretrain_images_per_s']:.2f} images/s, ratio (median of "
            f"{len(summary['speed_ratios'])} rounds) {summary['speed_ratio_median']:.2f}x "
            f"[{', '.join(f'{r:.2f}' for r in summary['speed_ratios'])}]")
    if 'cpu_time_ratio_median' in summary:
        line += (f"; per CPU second (all threads) {summary['cpu_time_ratio_median']:.2f}x "
                 f"[{', '.join(f'{r:.2f}' for r in summary['cpu_time_ratios'])}]")
    if 'mimlab_peak_rss_mib' in summary:
        line += (f"; peak RSS {summary['mimlab_peak_rss_mib']:.0f} vs "
                 f"{summary['mmpretrain_peak_rss_mib']:.0f} MiB (model + training: "
                 f"{summary['mimlab_model_rss_mib']:.0f} vs "
                 f"{summary['mmpretrain_model_rss_mib']:.0f} MiB); GFLOP/image "
                 f"{summary['mimlab_gflops_per_image']:.2f} vs "
                 f"{summary['mmpretrain_gflops_per_image']:.2f}")
    print(line, flush=True)


def compare_peer(configs: Dict[str, str], cases: Sequence[str] = ('vit-b', 'tiny', 'data'),
                 rounds: int = 3, settings: Optional[PeerSettings] = None) -> dict:
    """Measure every case ``rounds`` times on both sides, alternating their order, and print
    each case's summary; ``configs`` are mimlab's config files of the cases. Returns the
    summaries and every round's figures."""
    args = dataclasses.replace(settings or PeerSettings())
    unknown = [case for case in cases if case not in CASES]
    if unknown:
        raise ValueError(f'cases {unknown}: choose from {CASES}')
    if any(c.startswith('data') for c in cases) and not args.jpeg_folder:
        from mimlab.datasets.jpeg_folder import write_jpeg_folder
        args.jpeg_folder = tempfile.mkdtemp(prefix='compare_peer_jpegs_')
        write_jpeg_folder(args.jpeg_folder, num_images=128)
    import torch
    results = dict(threads=args.threads, rounds=rounds, torch=torch.__version__,
                   cpu_count=os.cpu_count(), load_average_start=os.getloadavg(), cases={})
    for case in cases:
        measured = []
        for i in range(rounds):
            order = FRAMEWORKS if i % 2 == 0 else FRAMEWORKS[::-1]
            measured.append({fw: run_worker(fw, case, configs[case], args) for fw in order})
        summary = summarize(case, measured)
        print_summary(summary)
        results['cases'][case] = dict(summary=summary, rounds=measured)
    results['load_average_end'] = os.getloadavg()
    return results


if __name__ == '__main__':
    worker_main(*sys.argv[1:])
