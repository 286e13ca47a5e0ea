"""Linear probe of a pretrained encoder on cached features.

    python tools/analysis_tools/linear_probe.py CONFIG CKPT [--epochs 30] [--out probe.json]
    python tools/analysis_tools/linear_probe.py --features feats.pth [--epochs 30]

CKPT 'none' probes the randomly initialised encoder (seed 0): the baseline pretraining must beat.

Features: the frozen encoder's output (after its final norm, unmasked) for every image of the
config dataset's ``train`` and ``test`` splits, read through the ``test_pipeline``; extracted once
here, or read from a file written by ``extract_features.py`` (then the probe takes seconds).
Classifier: BatchNorm1d without affine parameters + Linear (MAE's protocol), SGD with momentum
and a cosine schedule. Prints and writes top-1 accuracy. The probe as a training run (LARS,
augmentation, ``tools/train.py``) is configs/benchmarks/classification/*linear-probe*.
"""
import argparse
import time

import torch
from mmengine.config import DictAction

from mimlab.apis import (data_root_of, extract_split_features, init_model, load_config,
                         load_features)
from mimlab.engine.errors import one_line_errors
from mimlab.evaluation import train_linear_probe
from mimlab.experiments.cli import print_result


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', nargs='?')
    parser.add_argument('checkpoint', nargs='?', help="checkpoint file, or 'none' for random init")
    parser.add_argument('--features', help='a features file from extract_features.py (instead '
                        'of CONFIG CKPT)')
    parser.add_argument('--train-split', default='train')
    parser.add_argument('--test-split', default='test')
    parser.add_argument('--data-root', help="the data folder (instead of the config's), e.g. an "
                        'ImageNet-style folder with train/ and val/')
    parser.add_argument('--pool', choices=['cls', 'avg'], default='cls')
    parser.add_argument('--epochs', type=int, default=30)
    parser.add_argument('--lr', type=float, default=0.1)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--max-images', type=int,
                        help='use only the first N images of each split (quick checks)')
    parser.add_argument('--out', help='write the result as JSON')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    args = parser.parse_args(argv)
    if (args.features is None) == (args.checkpoint is None):
        parser.error('give CONFIG CKPT, or --features FILE')

    splits = (args.train_split, args.test_split)
    start = time.time()
    if args.features:
        try:
            record = load_features(args.features, splits)
        except (OSError, ValueError, KeyError) as err:
            raise SystemExit(str(err).strip('"'))
        features, classes = record['splits'], record['classes']
        source = dict(features=args.features, **record['meta'])
    else:
        checkpoint = None if args.checkpoint == 'none' else args.checkpoint
        torch.manual_seed(args.seed)
        cfg = load_config(args.config, args.cfg_options, data_root=args.data_root)
        with one_line_errors(cfg):
            model = init_model(cfg, checkpoint)
            try:
                features, classes = extract_split_features(model, splits, args.pool,
                                                           args.max_images)
            except ValueError as err:
                raise SystemExit(f'{args.config}: {err}')
        source = dict(config=args.config, checkpoint=args.checkpoint,
                      data_root=data_root_of(cfg), pool=args.pool)
    train, test = features[args.train_split], features[args.test_split]
    if args.features and args.max_images:
        train, test = [(f[:args.max_images], y[:args.max_images]) for f, y in (train, test)]
    extract_s = time.time() - start
    acc = train_linear_probe(train, test, len(classes), epochs=args.epochs, lr=args.lr,
                             seed=args.seed)
    result = dict(source, epochs=args.epochs, num_train=len(train[0]), num_test=len(test[0]),
                  feature_dim=train[0].shape[1], extract_seconds=round(extract_s, 1),
                  probe_seconds=round(time.time() - start - extract_s, 1), **acc)
    print_result(result, args.out)
    return result


if __name__ == '__main__':
    main()
