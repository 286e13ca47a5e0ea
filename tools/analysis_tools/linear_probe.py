"""Linear probe of a pretrained encoder on cached features.

    python tools/analysis_tools/linear_probe.py CONFIG CKPT [--epochs 30] [--out probe.json]

CKPT 'none' probes the randomly initialised encoder (seed 0): the baseline pretraining must beat.

Features: the frozen encoder's output (after its final norm, unmasked) for every image of the
config dataset's ``train`` and ``test`` splits, read through the ``test_pipeline``; extracted once.
Classifier: BatchNorm1d without affine parameters + Linear (MAE's protocol), SGD with momentum
and a cosine schedule. Prints and writes top-1 accuracy.
"""
import argparse
import json
import time

import torch
from mmengine.config import DictAction

from mimlab.apis import build_split_dataset, init_model, load_config
from mimlab.evaluation import extract_features, train_linear_probe


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint', help="checkpoint file, or 'none' for random init")
    parser.add_argument('--train-split', default='train')
    parser.add_argument('--test-split', default='test')
    parser.add_argument('--pool', choices=['cls', 'avg'], default='cls')
    parser.add_argument('--epochs', type=int, default=30)
    parser.add_argument('--lr', type=float, default=0.1)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--max-images', type=int,
                        help='use only the first N images of each split (quick checks)')
    parser.add_argument('--out', help='write the result as JSON')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    args = parser.parse_args(argv)

    checkpoint = None if args.checkpoint == 'none' else args.checkpoint
    torch.manual_seed(args.seed)
    model = init_model(load_config(args.config, args.cfg_options), checkpoint)
    start = time.time()
    train_set = build_split_dataset(model.cfg, args.train_split, indices=args.max_images)
    classes = train_set.metainfo.get('classes')
    if not classes:
        raise SystemExit(f'{args.config}: the {args.train_split} split has no class labels '
                         '(a plain folder of images cannot be probed)')
    train = extract_features(model, train_set, pool=args.pool)
    test_set = build_split_dataset(model.cfg, args.test_split, indices=args.max_images)
    test = extract_features(model, test_set, pool=args.pool)
    extract_s = time.time() - start
    acc = train_linear_probe(train, test, len(classes), epochs=args.epochs, lr=args.lr,
                             seed=args.seed)
    result = dict(config=args.config, checkpoint=args.checkpoint, pool=args.pool,
                  epochs=args.epochs, num_train=len(train[0]), num_test=len(test[0]),
                  feature_dim=train[0].shape[1], extract_seconds=round(extract_s, 1),
                  probe_seconds=round(time.time() - start - extract_s, 1), **acc)
    print(json.dumps(result, indent=1))
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(result, f, indent=1)
    return result


if __name__ == '__main__':
    main()
