"""Weighted kNN accuracy on cached features (cosine similarity, k = 20, temperature 0.07).

    python tools/analysis_tools/extract_features.py CONFIG CKPT --out feats.pth
    python tools/analysis_tools/knn.py feats.pth [--k 20] [--temperature 0.07] [--out knn.json]

The ``train`` split's features are the labelled bank, the ``test`` split's are classified.
"""
import argparse
import time

from mimlab.apis import load_features
from mimlab.evaluation import knn_accuracy
from mimlab.experiments.cli import print_result


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('features', help='a features file from extract_features.py')
    parser.add_argument('--k', type=int, default=20)
    parser.add_argument('--temperature', type=float, default=0.07)
    parser.add_argument('--train-split', default='train')
    parser.add_argument('--test-split', default='test')
    parser.add_argument('--out', help='write the result as JSON')
    args = parser.parse_args(argv)
    if args.k < 1 or args.temperature <= 0:
        parser.error('--k must be >= 1 and --temperature > 0')

    try:
        record = load_features(args.features, (args.train_split, args.test_split))
    except (OSError, ValueError, KeyError) as err:
        raise SystemExit(str(err).strip('"'))
    start = time.time()
    train, test = record['splits'][args.train_split], record['splits'][args.test_split]
    acc = knn_accuracy(train, test, len(record['classes']), k=args.k,
                       temperature=args.temperature)
    result = dict(features=args.features, **record['meta'], num_train=len(train[0]),
                  num_test=len(test[0]), seconds=round(time.time() - start, 2), **acc)
    print_result(result, args.out)
    return result


if __name__ == '__main__':
    main()
