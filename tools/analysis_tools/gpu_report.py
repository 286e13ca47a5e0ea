"""The GPU report (mimlab/experiments/gpu_report.py): MAE ViT-B/16 eager and compiled
against mmpretrain, ViT-L/16 and ViT-H/14, the data pipeline and a kernel profile, within a time
budget; writes OUT_DIR/report.json and OUT_DIR/report.md. Run it through gpu_report.sh on a
machine without mmengine/mmcv/mmpretrain.

    python tools/analysis_tools/gpu_report.py [--device cuda] [--tiny] [--batch 256]
        [--large-batch 256] [--iters 10] [--warmup 3] [--budget-s 480] [--workers N]
        [--data-images 4096] [--compile-backend inductor] [--out-dir work_dirs/gpu_report]
"""
import argparse
import os.path as osp

import torch

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = {
    'vit-b': osp.join(REPO, 'configs/mae/mae_vit-base-p16_8xb512-coslr-800e_in1k.py'),
    'vit-l': osp.join(REPO, 'configs/mae/mae_vit-large-p16_8xb512-coslr-800e_in1k.py'),
    'vit-h': osp.join(REPO, 'configs/mae/mae_vit-huge-p14_8xb512-coslr-800e_in1k.py'),
}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--tiny', action='store_true',
                        help='tiny models and images: checks every section in seconds')
    parser.add_argument('--batch', type=int, default=256, help='ViT-B batch (and the data)')
    parser.add_argument('--large-batch', type=int, default=256, help='ViT-L/H batch')
    parser.add_argument('--iters', type=int, default=10, help='timed steps')
    parser.add_argument('--warmup', type=int, default=3, help='untimed steps first')
    parser.add_argument('--budget-s', type=float, default=480,
                        help='total seconds; a section that would not fit is skipped')
    parser.add_argument('--workers', type=int, help='data-loader workers (default: all cores)')
    parser.add_argument('--data-images', type=int, default=4096,
                        help='images through the data pipeline')
    parser.add_argument('--compile-backend', default='inductor',
                        help='torch.compile backend of the compiled step')
    parser.add_argument('--threads', type=int, help='torch CPU threads')
    parser.add_argument('--out-dir', default='work_dirs/gpu_report')
    for name, path in CONFIGS.items():
        parser.add_argument(f'--{name}-config', default=path, help=f'the MAE {name} config')
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    from mimlab.experiments.gpu_report import run_report
    configs = {name: getattr(args, f'{name.replace("-", "_")}_config') for name in CONFIGS}
    report = run_report(configs, device=args.device, tiny=args.tiny, batch=args.batch,
                        large_batch=args.large_batch, iters=args.iters, warmup=args.warmup,
                        budget_s=args.budget_s, workers=args.workers,
                        data_images=args.data_images,
                        compile_opts=dict(backend=args.compile_backend), out_dir=args.out_dir)
    with open(f'{args.out_dir}/report.md') as f:
        print(f.read(), flush=True)
    return report


if __name__ == '__main__':
    main()
