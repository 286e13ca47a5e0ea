"""Patch (un)folding, fixed 2-D sin-cos position embeddings and the LayerNorm of the ViTs."""
from functools import partial
from typing import Tuple

import torch
import torch.nn as nn

# The LayerNorm of MAE's (and timm's) ViTs: eps 1e-6, so converted official weights behave alike.
LayerNorm6 = partial(nn.LayerNorm, eps=1e-6)


def patchify(images: torch.Tensor, patch_size: int) -> torch.Tensor:
    """(B, C, H, W) -> (B, L, p*p*C), patches in row-major order, each patch (p, p, C) flattened
    (the layout of the official MAE code, so its checkpoints' decoders agree)."""
    b, c, h, w = images.shape
    p = patch_size
    if h % p or w % p:
        raise ValueError(f'image size {h}x{w} is not divisible by patch_size={p}')
    x = images.reshape(b, c, h // p, p, w // p, p)
    x = torch.einsum('nchpwq->nhwpqc', x)
    return x.reshape(b, (h // p) * (w // p), p * p * c)


def unpatchify(patches: torch.Tensor, patch_size: int, grid: Tuple[int, int],
               channels: int) -> torch.Tensor:
    """(B, L, p*p*C) -> (B, C, H, W), the inverse of :func:`patchify`."""
    b = patches.shape[0]
    gh, gw = grid
    p = patch_size
    x = patches.reshape(b, gh, gw, p, p, channels)
    x = torch.einsum('nhwpqc->nchpwq', x)
    return x.reshape(b, channels, gh * p, gw * p)


def sincos_pos_embed_2d(embed_dim: int, grid: Tuple[int, int], cls_token: bool = False,
                        temperature: float = 10000.0) -> torch.Tensor:
    """Fixed 2-D sin-cos position embedding, (1, [1 +] h*w, D); the cls position is zeros.

    Half the channels encode the row, half the column (as MAE's ``get_2d_sincos_pos_embed``)."""
    if embed_dim % 4:
        raise ValueError(f'sin-cos position embedding needs embed_dim % 4 == 0, got {embed_dim}')
    h, w = grid
    quarter = embed_dim // 4
    omega = 1.0 / temperature ** (torch.arange(quarter, dtype=torch.float64) / quarter)
    gy, gx = torch.meshgrid(torch.arange(h, dtype=torch.float64),
                            torch.arange(w, dtype=torch.float64), indexing='ij')
    # MAE embeds the w-coordinate in the first half of the channels.
    out_x = gx.flatten()[:, None] * omega[None]
    out_y = gy.flatten()[:, None] * omega[None]
    emb = torch.cat([out_x.sin(), out_x.cos(), out_y.sin(), out_y.cos()], dim=1).float()
    if cls_token:
        emb = torch.cat([torch.zeros(1, embed_dim), emb], dim=0)
    return emb.unsqueeze(0)
