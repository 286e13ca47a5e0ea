"""Write a data set as WebDataset-format tar shards, for ``TarShardDataset``.

    python tools/dataset_converters/make_shards.py DATA_ROOT OUT_DIR [--split train]
        [--shard-size 1000] [--indices N] [--prefix train]

DATA_ROOT is anything ``ImageDataset`` reads (idx archives such as Fashion-MNIST, an
ImageNet-style folder, a plain folder of images). Image files are stored byte for byte (a JPEG
stays the same JPEG); images held in memory (idx archives) are stored as lossless PNG. Each sample
is ``{index:09d}.{ext}`` plus ``{index:09d}.cls`` with its label. Prints the shard pattern and
the sample count to put in a config (``shards=...``, ``num_samples=...``).
"""
import argparse
import io
import os
import os.path as osp
import tarfile

import cv2

from mimlab.datasets import ImageDataset


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = 0  # the same data gives the same shard bytes
    tar.addfile(info, io.BytesIO(data))


def sample_files(dataset: ImageDataset, index: int):
    """(extension, encoded image bytes, label) of one sample, without decoding files."""
    info = dataset.get_data_info(index)
    if 'img_path' in info:
        with open(info['img_path'], 'rb') as f:
            data = f.read()
        ext = osp.splitext(info['img_path'])[1].lstrip('.').lower()
        return ext, data, info['gt_label']
    ok, png = cv2.imencode('.png', info['img'])
    if not ok:
        raise ValueError(f'sample {index}: cannot encode its image as PNG')
    return 'png', png.tobytes(), info['gt_label']


def write_shards(data_root: str, out_dir: str, split: str = 'train', shard_size: int = 1000,
                 indices=None, prefix: str = 'train') -> tuple:
    """Write the shards; returns (brace pattern of the shard paths, number of samples)."""
    if shard_size < 1:
        raise ValueError(f'--shard-size must be >= 1, got {shard_size}')
    dataset = ImageDataset(data_root, split=split, indices=indices)
    os.makedirs(out_dir, exist_ok=True)
    num = len(dataset)
    num_shards = (num + shard_size - 1) // shard_size
    for shard in range(num_shards):
        path = osp.join(out_dir, f'{prefix}-{shard:06d}.tar')
        with tarfile.open(path + '.tmp', 'w') as tar:
            for i in range(shard * shard_size, min(num, (shard + 1) * shard_size)):
                ext, data, label = sample_files(dataset, i)
                _add(tar, f'{i:09d}.{ext}', data)
                _add(tar, f'{i:09d}.cls', str(int(label)).encode())
        os.replace(path + '.tmp', path)
    pattern = osp.join(out_dir, f'{prefix}-{{{0:06d}..{num_shards - 1:06d}}}.tar')
    return pattern, num


def main(argv=None) -> tuple:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('data_root', help='what ImageDataset reads: idx archives or a folder')
    parser.add_argument('out_dir', help='where the .tar shards go')
    parser.add_argument('--split', default='train')
    parser.add_argument('--shard-size', type=int, default=1000, help='samples per shard')
    parser.add_argument('--indices', type=int, help='only the first N samples')
    parser.add_argument('--prefix', default=None, help='shard name prefix (default: the split)')
    args = parser.parse_args(argv)
    if not osp.isdir(args.data_root):
        raise SystemExit(f'data_root {args.data_root} is not a folder')
    pattern, num = write_shards(args.data_root, args.out_dir, args.split, args.shard_size,
                                args.indices, args.prefix or args.split)
    print(f'wrote {num} samples: shards={pattern!r}, num_samples={num}')
    return pattern, num


if __name__ == '__main__':
    main()
