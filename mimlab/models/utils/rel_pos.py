"""BEiT-style relative position bias, and finding the patch grid a stored table was made for.

The table of one attention layer holds a learned bias per head for each of the
(2h-1)(2w-1) relative offsets between two patches of an h x w grid, plus three entries for
cls->patch, patch->cls and cls->cls (the layout of BEiT, CAE and timm's ``Beit``, so their tables
load unchanged). A table is resized to another grid by bicubic interpolation over the offsets.
"""
from typing import Callable, Tuple

import torch
import torch.nn.functional as F
from timm.layers import gen_relative_position_index

NUM_CLS_ENTRIES = 3


def num_relative_positions(grid: Tuple[int, int]) -> int:
    """Rows of the table for a grid: (2h-1)(2w-1) offsets + 3 cls entries."""
    return (2 * grid[0] - 1) * (2 * grid[1] - 1) + NUM_CLS_ENTRIES


def infer_grid(count: int, like: Tuple[int, int],
               size: Callable[[int, int], int] = lambda h, w: h * w) -> Tuple[int, int]:
    """The grid (h, w) with ``size(h, w) == count`` that a stored tensor was made for: square if
    one fits, else one with the aspect ratio of ``like`` (e.g. a 512x1024 model's 32x64 grid
    reading a 16x32 checkpoint). Raises ValueError when neither fits."""
    side = 1
    while size(side, side) < count:
        side += 1
    if size(side, side) == count:
        return side, side
    for h in range(1, count + 1):
        if (h * like[1]) % like[0] == 0:
            w = h * like[1] // like[0]
            if size(h, w) == count:
                return h, w
            if size(h, w) > count:
                break
    raise ValueError(f'cannot tell the patch grid of a stored tensor with {count} positions: it '
                     f'is neither square nor of the aspect ratio of the model grid {tuple(like)}')


def resize_rel_pos_table(table: torch.Tensor, src_grid: Tuple[int, int],
                         dst_grid: Tuple[int, int]) -> torch.Tensor:
    """(num_relative_positions(src), heads) -> (num_relative_positions(dst), heads): offsets
    resampled bicubically, the three cls entries kept."""
    if tuple(src_grid) == tuple(dst_grid):
        return table
    offsets, cls = table[:-NUM_CLS_ENTRIES], table[-NUM_CLS_ENTRIES:]
    heads = table.shape[1]
    src = (2 * src_grid[0] - 1, 2 * src_grid[1] - 1)
    dst = (2 * dst_grid[0] - 1, 2 * dst_grid[1] - 1)
    maps = offsets.t().reshape(1, heads, *src).float()
    maps = F.interpolate(maps, size=dst, mode='bicubic', align_corners=False)
    return torch.cat([maps.reshape(heads, -1).t().to(table.dtype), cls], dim=0)


def relative_position_bias(table: torch.Tensor, table_grid: Tuple[int, int],
                           grid: Tuple[int, int]) -> torch.Tensor:
    """The additive attention bias (heads, 1 + h*w, 1 + h*w) for a sequence of cls + the
    patches of ``grid`` in row-major order, from a table made for ``table_grid``."""
    table = resize_rel_pos_table(table, table_grid, grid)
    index = gen_relative_position_index(tuple(grid), class_token=True, device=table.device)
    n = index.shape[0]
    return table[index.view(-1)].view(n, n, -1).permute(2, 0, 1).contiguous()
