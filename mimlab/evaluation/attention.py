"""Attention maps of a ViT, computed explicitly (the blocks themselves run fused SDPA)."""
from typing import Tuple

import torch
import torch.nn as nn


def attention_weights(attn: nn.Module, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """The softmax weights and values of a timm ``Attention`` on its input ``x`` (B, N, D):
    ((B, heads, N, N) weights, (B, heads, N, head_dim) values), as its fused kernel uses them."""
    b, n, _ = x.shape
    heads = attn.num_heads
    q, k, v = attn.qkv(x).reshape(b, n, 3, heads, attn.head_dim).permute(2, 0, 3, 1, 4)
    q, k = attn.q_norm(q), attn.k_norm(k)
    return (q * attn.scale @ k.transpose(-2, -1)).softmax(dim=-1), v


@torch.no_grad()
def cls_attention(backbone: nn.Module, images: torch.Tensor, block: int = -1) -> torch.Tensor:
    """Attention of the cls token over the patches in one block of a mimlab ViT, per head.

    Args:
        backbone: a :class:`~mimlab.models.backbones.VisionTransformer` (or MaskedViT).
        images: (B, C, H, W) normalised inputs; all patches are encoded.
        block: the block (default the last).

    Returns:
        (B, heads, h, w) weights of the cls query on each patch (each map sums to 1 minus the
        cls token's weight on itself).
    """
    captured = {}
    attn = backbone.blocks[block].attn
    handle = attn.register_forward_pre_hook(lambda module, args: captured.update(x=args[0]))
    try:
        backbone.encode(images)
    finally:
        handle.remove()
    weights, _ = attention_weights(attn, captured['x'])
    p = backbone.num_prefix_tokens
    grid = (images.shape[2] // backbone.patch_size, images.shape[3] // backbone.patch_size)
    return weights[:, :, 0, p:].reshape(images.shape[0], -1, *grid)
