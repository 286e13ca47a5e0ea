"""mimlab against mmpretrain 1.2.0 (the peer), side by side in one run.

    python tools/analysis_tools/compare_peer.py [--cases vit-b tiny data data-cv2]
        [--rounds 3] [--threads 2] [--batch-vit-b 8] [--batch-tiny 256] [--iters N]
        [--warmup N] [--device cpu|cuda] [--amp bf16] [--data-images 256] [--out FILE.json]

Each measurement runs in a fresh process, the two frameworks alternating; the figure is the
median over rounds of the per-round ratio mimlab / mmpretrain. The cases and how they are
measured: :mod:`mimlab.experiments.peer`; this file parses the command line.
"""
import argparse
import os.path as osp

from mimlab.experiments.peer import CASES, PeerSettings, compare_peer

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
VIT_B = osp.join(REPO, 'configs/mae/mae_vit-base-p16_8xb512-coslr-800e_in1k.py')
CONFIGS = {'vit-b': VIT_B, 'data': VIT_B, 'data-cv2': VIT_B,
           'tiny': osp.join(REPO, 'configs/mae/mae_vit-tiny-p4_1xb256-coslr-6e_fashion-mnist.py')}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--cases', nargs='+', default=['vit-b', 'tiny', 'data'], choices=CASES)
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--threads', type=int, default=2, help='torch threads per model step')
    parser.add_argument('--batch-vit-b', type=int, default=8)
    parser.add_argument('--batch-tiny', type=int, default=256)
    parser.add_argument('--iters', type=int, help='timed steps (default: 5 vit-b, 20 tiny)')
    parser.add_argument('--warmup', type=int, help='untimed steps (default: 2 vit-b, 5 tiny)')
    parser.add_argument('--device', default='cpu', help="'cuda' on a GPU machine")
    parser.add_argument('--amp', choices=['bf16'], help='bf16 autocast on both sides')
    parser.add_argument('--data-images', type=int, default=256)
    parser.add_argument('--jpeg-folder', help='JPEGs for the data case (default: 128 written '
                        'from scikit-image photos into a temporary folder)')
    parser.add_argument('--out', help='write all results as JSON here')
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    settings = PeerSettings(
        threads=args.threads, batch_vit_b=args.batch_vit_b, batch_tiny=args.batch_tiny,
        iters=args.iters, warmup=args.warmup, device=args.device, amp=args.amp,
        data_images=args.data_images, jpeg_folder=args.jpeg_folder)
    results = compare_peer(CONFIGS, args.cases, args.rounds, settings)
    if args.out:
        from mimlab.experiments.cli import save_result
        save_result(args.out, results, indent=2, default=str)
    return results


if __name__ == '__main__':
    main()
