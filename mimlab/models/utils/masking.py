"""The one masking utility every method calls.

Convention: ``mask`` is 1/True where a patch is **removed** (hidden from the encoder).
Every mode returns the same :class:`PatchMask`: the kept patches' indices in a per-sample order
(kept first), and ``ids_restore`` which puts a ``[kept, removed]`` sequence back in patch order.
"""
import math
from dataclasses import dataclass
from typing import Optional, Sequence, Tuple

import torch

MASK_MODES = ('random', 'block', 'grid')


@dataclass
class PatchMask:
    """A batch of patch masks.

    Attributes:
        mask: (B, L) bool, True = removed.
        ids_keep: (B, L_keep) long, the kept patches' indices.
        ids_restore: (B, L) long, ``torch.gather(cat([kept, removed]), 1, ids_restore)`` restores
            patch order.
    """
    mask: torch.Tensor
    ids_keep: torch.Tensor
    ids_restore: torch.Tensor

    @property
    def num_keep(self) -> int:
        return self.ids_keep.shape[1]

    @property
    def num_patches(self) -> int:
        return self.mask.shape[1]

    @property
    def ids_removed(self) -> torch.Tensor:
        """(B, L - L_keep) long, the removed patches' indices (in the mask's own order)."""
        return torch.argsort(self.ids_restore, dim=1)[:, self.num_keep:]

    @staticmethod
    def _gather(x: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
        """(B, L, ...) per-patch values, (B, N) patch indices -> (B, N, ...)."""
        index = ids.view(*ids.shape, *([1] * (x.dim() - 2))).expand(-1, -1, *x.shape[2:])
        return torch.gather(x, 1, index)

    def keep(self, x: torch.Tensor) -> torch.Tensor:
        """(B, L, ...) values in patch order -> (B, L_keep, ...) the kept patches' values, in
        ``ids_keep`` order (what the encoder sees)."""
        return self._gather(x, self.ids_keep)

    def removed(self, x: torch.Tensor) -> torch.Tensor:
        """(B, L, ...) values in patch order -> (B, L - L_keep, ...) the removed patches' values,
        in ``ids_removed`` order (what the heads score)."""
        return self._gather(x, self.ids_removed)

    def restore(self, kept: torch.Tensor, removed: torch.Tensor) -> torch.Tensor:
        """Un-shuffle: the kept patches' values (ids_keep order) followed by the removed ones'
        (ids_removed order, e.g. a mask token expanded) -> (B, L, ...) in patch order. A sequence
        that already holds all L in that order may come as ``kept`` with an empty ``removed``."""
        return self._gather(torch.cat([kept, removed], dim=1), self.ids_restore)

    @classmethod
    def from_mask(cls, mask: torch.Tensor) -> 'PatchMask':
        """The PatchMask of a (B, L) bool mask (True = removed) that removes as many patches in
        every row (e.g. a reference implementation's mask); kept and removed patches each in
        patch order."""
        counts = mask.sum(dim=1)
        if not bool((counts == counts[0]).all()):
            raise ValueError('every image must have as many patches removed, got '
                             f'{counts.tolist()}')
        num_patches = mask.shape[1]
        order = torch.arange(num_patches, device=mask.device) / num_patches
        ids_shuffle, ids_restore = _order_from_scores(mask.float() + order)
        num_keep = num_patches - int(counts[0])
        return cls(mask=mask.bool(), ids_keep=ids_shuffle[:, :num_keep], ids_restore=ids_restore)

    @classmethod
    def removing_all(cls, batch_size: int, num_patches: int,
                     device: Optional[torch.device] = None) -> 'PatchMask':
        """The mask that removes every patch, ``ids_removed`` in patch order (to run a part
        that works on the removed patches over the whole image)."""
        order = torch.arange(num_patches, device=device).expand(batch_size, -1)
        return cls(mask=torch.ones(batch_size, num_patches, dtype=torch.bool, device=device),
                   ids_keep=order[:, :0], ids_restore=order)

    def complement(self) -> 'PatchMask':
        """The opposite mask: the removed patches are kept and the kept ones removed (CAE feeds
        the masked patches alone through the encoder for its alignment target)."""
        ids_shuffle = torch.argsort(self.ids_restore, dim=1).roll(-self.num_keep, dims=1)
        num_removed = self.mask.shape[1] - self.num_keep
        return PatchMask(mask=~self.mask, ids_keep=ids_shuffle[:, :num_removed],
                         ids_restore=torch.argsort(ids_shuffle, dim=1))


def seeded_masks(seeds: Sequence[int], grid: Tuple[int, int], mask_ratio: float,
                 mode: str = 'random', device: Optional[torch.device] = None,
                 **options) -> PatchMask:
    """One mask per seed (image i's from ``seeds[i]``, by its own CPU generator), as
    :func:`generate_mask` draws them: an image's mask depends on its seed only, not on the batch
    it comes in or on the number of processes, so a held-out loss is the same however the split
    is batched. ``options``: ``generate_mask``'s ``min_block``/``max_aspect``."""
    masks = [generate_mask(1, grid, mask_ratio, mode,
                           generator=torch.Generator().manual_seed(int(seed)), **options)
             for seed in seeds]
    return PatchMask(mask=torch.cat([m.mask for m in masks]).to(device),
                     ids_keep=torch.cat([m.ids_keep for m in masks]).to(device),
                     ids_restore=torch.cat([m.ids_restore for m in masks]).to(device))


def num_masked_patches(num_patches: int, mask_ratio: float) -> int:
    """How many of ``num_patches`` a ratio removes (MAE rounds the kept count down)."""
    if not 0.0 < mask_ratio < 1.0:
        raise ValueError(f'mask_ratio must lie in (0, 1), got {mask_ratio}')
    # the tolerance makes a ratio written as a count (75 / 196) give that count
    num_keep = int(num_patches * (1 - mask_ratio) + 1e-6)
    if num_keep < 1:
        raise ValueError(f'mask_ratio={mask_ratio} keeps no patch of {num_patches}')
    if num_keep == num_patches:  # nothing to reconstruct: the loss would be 0 / 0
        raise ValueError(f'mask_ratio={mask_ratio} removes no patch of {num_patches}')
    return num_patches - num_keep


def grid_stride(mask_ratio: float) -> int:
    """The cell side of ``grid`` masking, which keeps one patch in every s x s cell."""
    if not 0.0 < mask_ratio < 1.0:
        raise ValueError(f'mask_ratio must lie in (0, 1), got {mask_ratio}')
    stride = round(1 / math.sqrt(1 - mask_ratio))
    if stride < 2:
        raise ValueError(f'grid masking with mask_ratio={mask_ratio} removes no patch (cells of '
                         '1 x 1): use a mask_ratio of at least 0.56')
    return stride


def _order_from_scores(scores: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    ids_shuffle = torch.argsort(scores, dim=1)
    ids_restore = torch.argsort(ids_shuffle, dim=1)
    return ids_shuffle, ids_restore


def _block_mask(grid: Tuple[int, int], num_masked: int, generator: Optional[torch.Generator],
                min_block: int = 16, max_aspect: float = 1 / 0.3) -> torch.Tensor:
    """BEiT-style block masking for one image, (h * w,) bool.

    Rectangles of random area (at least ``min_block`` patches, at most what is still missing) and
    random aspect ratio (log-uniform in [1 / max_aspect, max_aspect]) are added while at least
    ``min_block`` patches are missing; a rectangle never overshoots the target. The last patches
    (fewer than ``min_block``, or all that are missing after 10 rectangles in a row did not fit)
    are grown one at a time onto the border of the masked region, so the count is exact and every
    4-connected masked region holds at least one whole rectangle (or is the only region).
    """
    h, w = grid
    mask = torch.zeros(h, w, dtype=torch.bool)
    min_block = max(1, min(min_block, num_masked))
    log_aspect = (math.log(1 / max_aspect), math.log(max_aspect))

    def rand() -> float:
        return torch.rand((), generator=generator).item()

    count = failures = 0
    while num_masked - count >= min_block and failures < 10:
        remaining = num_masked - count
        area = min_block + rand() * (remaining - min_block)
        aspect = math.exp(log_aspect[0] + rand() * (log_aspect[1] - log_aspect[0]))
        bh = int(round(math.sqrt(area * aspect)))
        bw = int(round(math.sqrt(area / aspect)))
        if not (1 <= bh <= h and 1 <= bw <= w and bh * bw >= min_block):
            failures += 1
            continue
        top = int(rand() * (h - bh + 1))
        left = int(rand() * (w - bw + 1))
        block = mask[top:top + bh, left:left + bw]
        new = int((~block).sum())
        if 0 < new <= remaining:
            block.fill_(True)
            count += new
            failures = 0
        else:
            failures += 1
    while count < num_masked:
        # free patches with a masked 4-neighbour (any free patch while nothing is masked yet)
        touching = torch.nn.functional.conv2d(mask.float()[None, None], _CROSS,
                                              padding=1)[0, 0] > 0
        free = torch.nonzero((~mask & touching).flatten()).squeeze(1)
        if free.numel() == 0:
            free = torch.nonzero(~mask.flatten()).squeeze(1)
        pick = free[torch.randint(free.numel(), (), generator=generator)]
        mask.view(-1)[pick] = True
        count += 1
    return mask.flatten()


_CROSS = torch.tensor([[0., 1., 0.], [1., 0., 1.], [0., 1., 0.]]).view(1, 1, 3, 3)


def generate_mask(batch_size: int, grid: Tuple[int, int], mask_ratio: float,
                  mode: str = 'random', generator: Optional[torch.Generator] = None,
                  device: Optional[torch.device] = None, min_block: int = 16,
                  max_aspect: float = 1 / 0.3) -> PatchMask:
    """Draw a mask for each of ``batch_size`` images over a ``grid`` (h, w) of patches.

    Args:
        batch_size: B.
        grid: (h, w) patches per column / row; L = h * w.
        mask_ratio: the fraction removed, in (0, 1). ``random`` and ``block`` remove exactly
            ``L - int(L * (1 - mask_ratio))`` patches. ``grid`` keeps one patch in every s x s
            cell, s = round(1 / sqrt(1 - mask_ratio)) (MAE's grid ablation: s = 2 at 0.75).
        mode: ``random`` (MAE), ``block`` (BEiT/CAE) or ``grid``.
        generator: the random generator; None uses torch's global one (seeded by the runner).
        device: where the result lives. ``random`` masks are drawn there (on a GPU: from its
            RNG, with no host copy each step), or on the generator's device when one is given.
        min_block: ``block`` mode: the smallest rectangle, in patches (BEiT/CAE: 16).
        max_aspect: ``block`` mode: rectangles' aspect ratios lie in [1 / max_aspect,
            max_aspect] (BEiT/CAE: 1 / 0.3).

    Returns:
        PatchMask with every sample keeping the same number of patches.
    """
    if mode not in MASK_MODES:
        raise ValueError(f'mask mode {mode!r} is not one of {MASK_MODES}')
    h, w = grid
    num_patches = h * w
    if mode == 'random':
        num_keep = num_patches - num_masked_patches(num_patches, mask_ratio)
        # no generator argument when there is none: torch.compile cannot trace
        # rand(generator=None) with a dynamic batch size (a recompile for a smaller last batch)
        scores = (torch.rand(batch_size, num_patches, device=device) if generator is None else
                  torch.rand(batch_size, num_patches, generator=generator,
                             device=generator.device))
    elif mode == 'block':
        num_masked = num_masked_patches(num_patches, mask_ratio)
        num_keep = num_patches - num_masked
        masks = torch.stack([_block_mask(grid, num_masked, generator, min_block, max_aspect)
                             for _ in range(batch_size)])
        # Kept patches first, in patch order; removed after (scores in [0, 1) keep it stable).
        scores = masks.float() + torch.arange(num_patches) / num_patches
    else:
        stride = grid_stride(mask_ratio)
        rows = torch.arange(h).unsqueeze(1) % stride == 0
        cols = torch.arange(w).unsqueeze(0) % stride == 0
        removed = ~(rows & cols).flatten()
        num_keep = int((~removed).sum())
        scores = (removed.float() + torch.arange(num_patches) / num_patches).expand(
            batch_size, -1)
    ids_shuffle, ids_restore = _order_from_scores(scores)
    mask = torch.ones(batch_size, num_patches, dtype=torch.bool, device=scores.device)
    mask[:, :num_keep] = False
    mask = torch.gather(mask, 1, ids_restore)
    return PatchMask(mask=mask.to(device), ids_keep=ids_shuffle[:, :num_keep].to(device),
                     ids_restore=ids_restore.to(device))
