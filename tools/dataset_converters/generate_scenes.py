"""Write a tiny generated data set in ADE20K's or COCO's exact layout (learnable scenes).

    python tools/dataset_converters/generate_scenes.py shapes ade20k data/ade --num-train 200 --num-val 50
    python tools/dataset_converters/generate_scenes.py shapes coco data/coco --num-train 200 --num-val 50
    python tools/dataset_converters/generate_scenes.py garments coco data/garments/coco --size 64

``shapes``: colour shapes labelled with ADE20K's / COCO's own classes. ``garments``: grey scenes
of 1-4 Fashion-MNIST garments (``--fashion-mnist``: the idx archives; training scenes from its
training split, validation scenes from its test split), ten classes (Fashion-MNIST's names).
The ADE20K set lands in ROOT/ADEChallengeData2016 (images/ and annotations/, training and
validation), the COCO set in ROOT/{train2017,val2017} and ROOT/annotations/instances_*.json: the
downstream configs read them with only ``data_root`` changed. See mimlab/datasets/scenes.py.
"""
import argparse
import time

from mimlab.datasets.scenes import (FASHION_MNIST_ROOT, garment_scenes, shape_scenes,
                                    write_ade20k_layout, write_coco_layout)


def main(argv=None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('kind', choices=['shapes', 'garments'])
    parser.add_argument('layout', choices=['ade20k', 'coco'])
    parser.add_argument('root', help='where to write (e.g. data/ade or data/coco)')
    parser.add_argument('--num-train', type=int, default=200)
    parser.add_argument('--num-val', type=int, default=50)
    parser.add_argument('--size', type=int, default=128, help='square image side in pixels')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--fashion-mnist', default=FASHION_MNIST_ROOT,
                        help='garments: the folder of the Fashion-MNIST idx archives')
    parser.add_argument('--max-objects', type=int, default=4,
                        help='garments: at most this many per scene')
    args = parser.parse_args(argv)
    if min(args.num_train, args.num_val) < 1 or args.size < 16:
        parser.error('--num-train and --num-val must be >= 1 and --size >= 16')
    start = time.time()
    if args.kind == 'garments':
        scenes = garment_scenes(args.size, args.fashion_mnist, max_objects=args.max_objects)
    else:
        scenes = shape_scenes(args.size, layout=args.layout)
    write = write_ade20k_layout if args.layout == 'ade20k' else write_coco_layout
    data_root = write(args.root, args.num_train, args.num_val, seed=args.seed, scenes=scenes)
    print(f'{args.kind}, {args.layout}: {args.num_train} train + {args.num_val} val images of '
          f'{args.size}x{args.size} in {data_root} ({time.time() - start:.1f} s)')
    return data_root


if __name__ == '__main__':
    main()
