"""Write label-fraction split files for label-efficient segmentation.

    python tools/dataset_converters/make_label_splits.py data/ade/ADEChallengeData2016 \
        --percent 1 5 10 20 100 --seed 0

writes DATA_ROOT/splits/train_{P}pct_seed{S}.txt: image basenames from images/training (never
one that is also in images/validation), one per line, drawn by a permutation fixed by the seed
(smaller fractions are subsets of larger ones). Use one as the training set of an mmseg config:
``--cfg-options train_dataloader.dataset.ann_file=splits/train_10pct_seed0.txt``.
"""
import argparse

from mimlab.datasets.label_splits import write_label_splits


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('data_root', help='e.g. data/ade/ADEChallengeData2016')
    parser.add_argument('--percent', type=float, nargs='+', default=[1, 5, 10, 20, 100])
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--img-dir', default='images/training')
    parser.add_argument('--val-dir', default='images/validation')
    parser.add_argument('--img-suffix', default='.jpg')
    args = parser.parse_args(argv)
    try:
        paths = write_label_splits(args.data_root, args.percent, args.seed, args.img_dir,
                                   args.val_dir, args.img_suffix)
    except (FileNotFoundError, ValueError) as err:
        raise SystemExit(str(err))
    for percent, path in paths.items():
        with open(path) as f:
            print(f'{percent:g}%: {sum(1 for _ in f)} images -> {path}')
    return paths


if __name__ == '__main__':
    main()
