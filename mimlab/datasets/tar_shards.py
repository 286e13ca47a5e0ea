"""Sharded tar archives in the WebDataset format, streamed: for data sets too large for a folder.

A shard is a plain tar file; consecutive members that share a key (the name up to the first dot
of its base name) form one sample, e.g. ``000017.jpg`` + ``000017.cls``. The image is the member
with an image extension, the label the integer in ``.cls`` (absent: -1). Write shards with
``tools/dataset_converters/make_shards.py``.
"""
import glob
import os.path as osp
import random
import re
import tarfile
from typing import Iterator, List, Optional, Sequence, Tuple, Union

from mmengine.dataset import Compose
from mmengine.dist import get_dist_info
from torch.utils.data import IterableDataset, get_worker_info

from mimlab.registry import DATASETS
from .image_dataset import IMG_EXTENSIONS

_BRACES = re.compile(r'\{(\d+)\.\.(\d+)\}')


def expand_shards(shards: Union[str, Sequence[str]]) -> List[str]:
    """Shard paths from a list, a glob (``train-*.tar``) or WebDataset's brace range
    (``train-{000000..000099}.tar``, zero padding kept)."""
    if not isinstance(shards, str):
        return [str(s) for s in shards]
    found = _BRACES.search(shards)
    if found:
        first, last = found.group(1), found.group(2)
        width = len(first)
        return [shards[:found.start()] + str(i).zfill(width) + shards[found.end():]
                for i in range(int(first), int(last) + 1)]
    return sorted(glob.glob(shards))


def split_key(name: str) -> Tuple[str, str]:
    """``dir/000017.jpg`` -> (``dir/000017``, ``jpg``): WebDataset splits at the first dot of the
    base name."""
    folder, base = osp.split(name)
    key, _, ext = base.partition('.')
    return osp.join(folder, key), ext.lower()


def iter_tar_samples(path: str) -> Iterator[dict]:
    """Stream one shard's samples as dicts: ``img_bytes``, ``img_path`` ('shard.tar:member', for
    messages) and ``gt_label``. Reads the tar front to back (``r|``), never seeking."""
    sample, key = None, None
    with tarfile.open(path, mode='r|*') as tar:
        for member in tar:
            if not member.isfile():
                continue
            member_key, ext = split_key(member.name)
            if member_key != key:
                if sample is not None and 'img_bytes' in sample:
                    yield sample
                sample, key = dict(gt_label=-1), member_key
            data = tar.extractfile(member).read()
            if ('.' + ext.rsplit('.', 1)[-1]) in IMG_EXTENSIONS:
                sample['img_bytes'] = data
                sample['img_path'] = f'{path}:{member.name}'
            elif ext == 'cls':
                sample['gt_label'] = int(data.decode().strip())
    if sample is not None and 'img_bytes' in sample:
        yield sample


def count_tar_samples(path: str) -> int:
    """Samples in a shard, from its member headers (no image is read)."""
    keys = set()
    with tarfile.open(path, mode='r|*') as tar:
        for member in tar:
            key, ext = split_key(member.name)
            if member.isfile() and ('.' + ext.rsplit('.', 1)[-1]) in IMG_EXTENSIONS:
                keys.add(key)
    return len(keys)


@DATASETS.register_module()
class TarShardDataset(IterableDataset):
    """Stream samples from WebDataset-format tar shards, each rank and each data-loader worker
    reading its own shards.

    Shard ``i`` goes to rank ``i % world_size``; within a rank, its shards are split over the
    workers the same way. Every rank yields exactly ``num_samples // world_size`` samples per
    epoch (cycling through its shards if they hold fewer, stopping early if more), so
    distributed ranks run the same number of iterations. Each epoch reshuffles the order of a
    reader's shards and of its samples (through a buffer of ``shuffle_buffer`` samples) with a
    seed that changes per epoch (the data loader's per-epoch worker seed).

    Use it with ``sampler=None`` in the data loader config (a stream has no indices).

    Args:
        shards: the shard files: a list, a glob, or a brace range
            (``data/shards/train-{000000..000099}.tar``).
        pipeline: transforms; the first should be ``LoadImage`` (it decodes ``img_bytes``).
        num_samples: samples in all shards together (None: counted from the tar headers once,
            at construction).
        shuffle: shuffle shards and samples each epoch.
        shuffle_buffer: samples held for shuffling (more: better mixing, more memory).
        seed: shuffling seed when the data loader has no workers.
        test_mode: mmengine's flag (kept for configs; a stream is the same either way).
    """

    def __init__(self, shards: Union[str, Sequence[str]], pipeline: Sequence = (),
                 num_samples: Optional[int] = None, shuffle: bool = True,
                 shuffle_buffer: int = 1000, seed: int = 0, test_mode: bool = False) -> None:
        super().__init__()
        self.shards = expand_shards(shards)
        if not self.shards:
            raise FileNotFoundError(f'dataset shards={shards!r} matches no file')
        missing = [s for s in self.shards if not osp.isfile(s)]
        if missing:
            raise FileNotFoundError(f'dataset shards: {len(missing)} of {len(self.shards)} files '
                                    f'do not exist, e.g. {missing[0]}')
        self.pipeline = Compose(list(pipeline))
        self.num_samples = (sum(count_tar_samples(s) for s in self.shards)
                            if num_samples is None else int(num_samples))
        self.shuffle = shuffle
        self.shuffle_buffer = shuffle_buffer
        self.seed = seed
        self.test_mode = test_mode
        self.metainfo = {}
        self._epoch = 0
        rank, world_size = get_dist_info()
        self.rank_shards = self.shards[rank::world_size]
        if not self.rank_shards:
            raise ValueError(f'{len(self.shards)} shards cannot feed {world_size} ranks: write '
                             'at least one shard per rank (make_shards.py --shard-size)')
        self.samples_per_rank = self.num_samples // world_size

    def __len__(self) -> int:
        return self.samples_per_rank

    def reader_plan(self) -> Tuple[List[str], int, int]:
        """(this reader's shards, its sample quota this epoch, its seed this epoch)."""
        info = get_worker_info()
        worker, num_workers = (0, 1) if info is None else (info.id, info.num_workers)
        shards = self.rank_shards[worker::num_workers]
        if not shards:
            raise ValueError(f'rank has {len(self.rank_shards)} shards for {num_workers} '
                             'data-loader workers: use fewer workers or more shards')
        quota = self.samples_per_rank // num_workers + (
            worker < self.samples_per_rank % num_workers)
        if info is None:
            seed = self.seed + self._epoch
            self._epoch += 1
        else:
            seed = info.seed
        return shards, quota, seed

    def _passes(self, shards: List[str], rng: random.Random) -> Iterator[dict]:
        """Passes over the reader's shards, each shuffled on its own, one after another: a
        reader whose shards run short of its quota repeats them (the next pass)."""
        while True:
            order = list(shards)
            if self.shuffle:
                rng.shuffle(order)
            yielded = False
            for sample in self._shuffled(
                    (s for shard in order for s in iter_tar_samples(shard)), rng):
                yielded = True
                yield sample
            if not yielded:
                raise ValueError(f'shards {shards} hold no image')

    def _shuffled(self, samples: Iterator[dict], rng: random.Random) -> Iterator[dict]:
        """A shuffle buffer over one pass; what it holds at the end comes out shuffled."""
        if not self.shuffle or self.shuffle_buffer <= 1:
            yield from samples
            return
        buffer = []
        for sample in samples:
            if len(buffer) < self.shuffle_buffer:
                buffer.append(sample)
                continue
            i = rng.randrange(len(buffer))
            buffer[i], sample = sample, buffer[i]
            yield sample
        rng.shuffle(buffer)
        yield from buffer

    def __iter__(self) -> Iterator[dict]:
        shards, quota, seed = self.reader_plan()
        rng = random.Random(seed)
        for count, sample in enumerate(self._passes(shards, rng)):
            if count >= quota:
                return
            yield self.pipeline(sample)
