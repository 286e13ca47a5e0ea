"""Typed values passed between model parts (DESIGN.md, contracts)."""
from dataclasses import dataclass, field
from typing import Dict, Optional, Tuple

import torch

from .masking import PatchMask


@dataclass(frozen=True)
class EncoderSpec:
    """What a neck or head needs to know of its encoder; they derive their sizes from it."""
    embed_dim: int
    depth: int
    num_heads: int
    patch_size: int
    grid_size: Tuple[int, int]
    in_chans: int
    num_prefix_tokens: int = 1

    @property
    def num_patches(self) -> int:
        return self.grid_size[0] * self.grid_size[1]

    @property
    def patch_dim(self) -> int:
        """Values per patch: p * p * C."""
        return self.patch_size ** 2 * self.in_chans


@dataclass
class EncoderOutput:
    """What a masked encoder returns.

    Attributes:
        tokens: (B, 1 + L_keep, D) the cls token and the visible patch tokens after the final norm
            (an encoder that sees mask tokens returns all L, kept first: ``ids_restore`` orders
            either).
        patch_mask: the mask drawn for this batch (None when nothing was masked).
        hidden_states: the outputs of the requested blocks, {block index: (B, 1 + L_keep, D)},
            before the final norm.
    """
    tokens: torch.Tensor
    patch_mask: Optional[PatchMask]
    hidden_states: Dict[int, torch.Tensor] = field(default_factory=dict)

    @property
    def mask(self) -> Optional[torch.Tensor]:
        return None if self.patch_mask is None else self.patch_mask.mask

    @property
    def ids_restore(self) -> Optional[torch.Tensor]:
        return None if self.patch_mask is None else self.patch_mask.ids_restore
