"""Write a tiny generated data set in ADE20K's or COCO's exact layout (learnable scenes).

    python tools/dataset_converters/generate_scenes.py ade20k data/ade --num-train 200 --num-val 50
    python tools/dataset_converters/generate_scenes.py coco data/coco --num-train 200 --num-val 50

The ADE20K set lands in ROOT/ADEChallengeData2016 (images/ and annotations/, training and
validation), the COCO set in ROOT/{train2017,val2017} and ROOT/annotations/instances_*.json: the
downstream configs read them with only ``data_root`` changed. See mimlab/datasets/scenes.py.
"""
import argparse
import time

from mimlab.datasets.scenes import write_ade20k_layout, write_coco_layout


def main(argv=None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('layout', choices=['ade20k', 'coco'])
    parser.add_argument('root', help='where to write (e.g. data/ade or data/coco)')
    parser.add_argument('--num-train', type=int, default=200)
    parser.add_argument('--num-val', type=int, default=50)
    parser.add_argument('--size', type=int, default=128, help='square image side in pixels')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args(argv)
    if min(args.num_train, args.num_val) < 1 or args.size < 16:
        parser.error('--num-train and --num-val must be >= 1 and --size >= 16')
    start = time.time()
    write = write_ade20k_layout if args.layout == 'ade20k' else write_coco_layout
    data_root = write(args.root, args.num_train, args.num_val, size=args.size, seed=args.seed)
    print(f'{args.layout}: {args.num_train} train + {args.num_val} val images of '
          f'{args.size}x{args.size} in {data_root} ({time.time() - start:.1f} s)')
    return data_root


if __name__ == '__main__':
    main()
