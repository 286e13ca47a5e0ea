"""The one masking utility every method calls.

Convention (DESIGN.md): ``mask`` is 1/True where a patch is **removed** (hidden from the encoder).
Every mode returns the same :class:`PatchMask`: the kept patches' indices in a per-sample order
(kept first), and ``ids_restore`` which puts a ``[kept, removed]`` sequence back in patch order.
"""
import math
from dataclasses import dataclass
from typing import Optional, Tuple

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


def num_masked_patches(num_patches: int, mask_ratio: float) -> int:
    """How many of ``num_patches`` a ratio removes (MAE rounds the kept count down)."""
    if not 0.0 < mask_ratio < 1.0:
        raise ValueError(f'mask_ratio must lie in (0, 1), got {mask_ratio}')
    num_keep = int(num_patches * (1 - mask_ratio))
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
                min_block: int = 4, max_aspect: float = 3.0) -> torch.Tensor:
    """BEiT-style block masking for one image: rectangles of random area and aspect ratio are
    added until ``num_masked`` patches are covered; a rectangle never overshoots the target, and
    if rectangles stop fitting, the last few patches are drawn at random, so the count is exact."""
    h, w = grid
    mask = torch.zeros(h, w, dtype=torch.bool)
    log_aspect = (math.log(1 / max_aspect), math.log(max_aspect))

    def rand() -> float:
        return torch.rand((), generator=generator).item()

    failures = 0
    while int(mask.sum()) < num_masked and failures < 10:
        remaining = num_masked - int(mask.sum())
        max_area = remaining
        if max_area < min_block:
            break
        area = min_block + rand() * (max_area - min_block)
        aspect = math.exp(log_aspect[0] + rand() * (log_aspect[1] - log_aspect[0]))
        bh = int(round(math.sqrt(area * aspect)))
        bw = int(round(math.sqrt(area / aspect)))
        if not (1 <= bh <= h and 1 <= bw <= w):
            failures += 1
            continue
        top = int(rand() * (h - bh + 1))
        left = int(rand() * (w - bw + 1))
        block = mask[top:top + bh, left:left + bw]
        new = int((~block).sum())
        if 0 < new <= remaining:
            block.fill_(True)
            failures = 0
        else:
            failures += 1
    flat = mask.flatten()
    missing = num_masked - int(flat.sum())
    if missing > 0:
        free = torch.nonzero(~flat).squeeze(1)
        pick = free[torch.randperm(free.numel(), generator=generator)[:missing]]
        flat[pick] = True
    return flat


def generate_mask(batch_size: int, grid: Tuple[int, int], mask_ratio: float,
                  mode: str = 'random', generator: Optional[torch.Generator] = None,
                  device: Optional[torch.device] = None) -> PatchMask:
    """Draw a mask for each of ``batch_size`` images over a ``grid`` (h, w) of patches.

    Args:
        batch_size: B.
        grid: (h, w) patches per column / row; L = h * w.
        mask_ratio: the fraction removed, in (0, 1). ``random`` and ``block`` remove exactly
            ``L - int(L * (1 - mask_ratio))`` patches. ``grid`` keeps one patch in every s x s
            cell, s = round(1 / sqrt(1 - mask_ratio)) (MAE's grid ablation: s = 2 at 0.75).
        mode: ``random`` (MAE), ``block`` (BEiT/CAE) or ``grid``.
        generator: the random generator; None uses torch's global one (seeded by the runner).
        device: where the result lives.

    Returns:
        PatchMask with every sample keeping the same number of patches.
    """
    if mode not in MASK_MODES:
        raise ValueError(f'mask mode {mode!r} is not one of {MASK_MODES}')
    h, w = grid
    num_patches = h * w
    if mode == 'random':
        num_keep = num_patches - num_masked_patches(num_patches, mask_ratio)
        scores = torch.rand(batch_size, num_patches, generator=generator)
    elif mode == 'block':
        num_masked = num_masked_patches(num_patches, mask_ratio)
        num_keep = num_patches - num_masked
        masks = torch.stack([_block_mask(grid, num_masked, generator)
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
    mask = torch.ones(batch_size, num_patches, dtype=torch.bool)
    mask[:, :num_keep] = False
    mask = torch.gather(mask, 1, ids_restore)
    return PatchMask(mask=mask.to(device), ids_keep=ids_shuffle[:, :num_keep].to(device),
                     ids_restore=ids_restore.to(device))
