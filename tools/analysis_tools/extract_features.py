"""Extract an encoder's features once and cache them for the linear probe and kNN.

    python tools/analysis_tools/extract_features.py CONFIG CKPT --out feats.pth

CKPT 'none' takes the randomly initialised encoder (seed 0). CONFIG is a pretraining or a
classification config (``--data-root DIR`` reads another folder): its training dataset's
``train`` and ``test`` splits (``test`` is ``val/`` in a folder without ``test/``) are read
through its ``test_pipeline`` and encoded unmasked; the cls token (or the mean patch token,
``--pool avg``) after the encoder's final norm is saved. Then:

    python tools/analysis_tools/linear_probe.py --features feats.pth
    python tools/analysis_tools/knn.py feats.pth
"""
import argparse
import time

import torch
from mmengine.config import DictAction

from mimlab.apis import (data_root_of, extract_split_features, init_model, load_config,
                         save_features)
from mimlab.engine.checkpoint import allow_unsafe_load
from mimlab.engine.errors import one_line_errors


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint', help="checkpoint file, or 'none' for random init")
    parser.add_argument('--out', required=True, help='features file to write (.pth)')
    parser.add_argument('--splits', nargs='+', default=['train', 'test'],
                        help="splits to encode ('test' reads val/ when the folder has no test/)")
    parser.add_argument('--data-root', help="the data folder (instead of the config's), e.g. an "
                        'ImageNet-style folder with train/ and val/')
    parser.add_argument('--pool', choices=['cls', 'avg'], default='cls')
    parser.add_argument('--max-images', type=int,
                        help='use only the first N images of each split (quick checks)')
    parser.add_argument('--seed', type=int, default=0, help='seed of the random init')
    parser.add_argument('--unsafe-load', action='store_true',
                        help='load the checkpoint with torch.load(weights_only=False); only for '
                        'checkpoints from a source you trust')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    args = parser.parse_args(argv)

    allow_unsafe_load(args.unsafe_load)
    checkpoint = None if args.checkpoint == 'none' else args.checkpoint
    torch.manual_seed(args.seed)
    cfg = load_config(args.config, args.cfg_options, data_root=args.data_root)
    start = time.time()
    with one_line_errors(cfg):
        model = init_model(cfg, checkpoint)
        try:
            features, classes = extract_split_features(model, args.splits, args.pool,
                                                       args.max_images)
        except ValueError as err:
            raise SystemExit(f'{args.config}: {err}')
    save_features(args.out, features, classes, config=args.config, checkpoint=args.checkpoint,
                  data_root=data_root_of(cfg), pool=args.pool)
    summary = dict(out=args.out, seconds=round(time.time() - start, 1),
                   **{f'num_{k}': len(f) for k, (f, _) in features.items()},
                   feature_dim=next(iter(features.values()))[0].shape[1])
    print(summary)
    return summary


if __name__ == '__main__':
    main()
