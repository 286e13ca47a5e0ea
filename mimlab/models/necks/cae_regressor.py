"""CAE's latent contextual regressor and decoder (Chen et al. 2022, Sec. 3)."""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from timm.layers import DropPath, LayerScale, Mlp
from timm.models.vision_transformer import Block

from mimlab.registry import MODELS
from ..utils import EncoderSpec, LayerNorm6, PatchMask


def _init_linear(module: nn.Module) -> None:
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


class CrossAttention(nn.Module):
    """Multi-head attention of queries over a separate key/value sequence (timm's ``Attention``
    attends a sequence to itself; here the queries are only a part of the keys).

    As CAE's (and BEiT's), the query and value projections have a bias and the key projection
    none: a key bias adds ``q . b_k`` to every logit of a query alike, which the softmax ignores.
    """

    def __init__(self, dim: int, num_heads: int, qkv_bias: bool = True) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f'regressor embed_dim={dim} is not divisible by num_heads={num_heads}')
        self.num_heads = num_heads
        self.q = nn.Linear(dim, dim, bias=qkv_bias)
        self.k = nn.Linear(dim, dim, bias=False)
        self.v = nn.Linear(dim, dim, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        return x.view(b, n, self.num_heads, d // self.num_heads).transpose(1, 2)

    def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """(B, N_q, D) queries over (B, N_kv, D) keys and values -> (B, N_q, D)."""
        out = F.scaled_dot_product_attention(self._heads(self.q(q)), self._heads(self.k(k)),
                                             self._heads(self.v(v)))
        return self.proj(out.transpose(1, 2).flatten(2))


BLOCK_STYLES = ('cae', 'prenorm')


class RegressorBlock(nn.Module):
    """One cross-attention block of the regressor. Keys are ``norm_k([x_kv + pos_kv, x_q +
    pos_q])``, values ``norm_v([x_kv, x_q])``, queries ``norm_q(x_q + pos_q)``; only the queries
    are updated. Then, by ``style``:

    - ``'cae'`` (official CAE, mmpretrain's ``CAETransformerRegressorLayer``): the query stream
      is re-normalised after the attention and the MLP adds to the normalised stream,
      ``x = norm2(x_q + attn); x = x + mlp(x)``;
    - ``'prenorm'`` (mimlab's earlier variant): a plain pre-norm MLP,
      ``x = x_q + attn; x = x + mlp(norm2(x))``.
    """

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float = 4.0, qkv_bias: bool = True,
                 drop_path: float = 0.0, init_values: Optional[float] = None,
                 style: str = 'cae') -> None:
        super().__init__()
        self.style = style
        self.norm_q, self.norm_k, self.norm_v = LayerNorm6(dim), LayerNorm6(dim), LayerNorm6(dim)
        self.attn = CrossAttention(dim, num_heads, qkv_bias=qkv_bias)
        self.ls1 = LayerScale(dim, init_values) if init_values else nn.Identity()
        self.norm2 = LayerNorm6(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        self.ls2 = LayerScale(dim, init_values) if init_values else nn.Identity()
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def forward(self, x_q: torch.Tensor, pos_q: torch.Tensor, x_kv: torch.Tensor,
                pos_kv: torch.Tensor) -> torch.Tensor:
        q = x_q + pos_q
        k = self.norm_k(torch.cat([x_kv + pos_kv, q], dim=1))
        v = self.norm_v(torch.cat([x_kv, x_q], dim=1))
        x = x_q + self.drop_path(self.ls1(self.attn(self.norm_q(q), k, v)))
        if self.style == 'cae':
            x = self.norm2(x)
            return x + self.drop_path(self.ls2(self.mlp(x)))
        return x + self.drop_path(self.ls2(self.mlp(self.norm2(x))))


@MODELS.register_module()
class LatentContextualRegressor(BaseModule):
    """Predicts the encoder's latents of the masked patches from those of the visible ones.

    Queries: one shared learnable mask token plus the position of each masked patch.
    Keys/values: the visible patches' latents (with their positions) followed by the queries;
    with ``style='cae'`` (the default, as official CAE and mmpretrain) the cls token is not among
    them, with ``style='prenorm'`` it is (position zero). Positions are the encoder's own
    (``pos_embed``, handed in), as in both references, so converted weights see the positions
    they were trained with. Width and patch grid come from the encoder, so the output lives in
    the encoder's representation space and can be aligned with it.

    Attention rule (what a query may see): every query attends to all visible latents, to itself
    and to every other query. That is the paper's rule and it leaks nothing: a query carries only
    the mask token, its position and what it gathered from the visible latents in earlier blocks;
    the content of a masked patch never enters the regressor (it reaches the model only as a
    target). Visible content reaches the queries only through the visible latents.

    Args:
        encoder_spec: the encoder's :class:`EncoderSpec` (filled in by the algorithm).
        depth: cross-attention blocks (CAE: 4); 0 predicts ``norm(mask token)``.
        num_heads: attention heads (default: the encoder's).
        mlp_ratio: MLP hidden width / width.
        drop_path_rate: stochastic depth, rising linearly over the blocks (CAE: 0.1).
        init_values: LayerScale initial value (CAE: 0.1); None: no LayerScale.
        style: the block, ``'cae'`` (the references) or ``'prenorm'`` (see
            :class:`RegressorBlock`; docs/cae.md).
    """

    def __init__(self, encoder_spec: EncoderSpec, depth: int = 4, num_heads: Optional[int] = None,
                 mlp_ratio: float = 4.0, drop_path_rate: float = 0.0,
                 init_values: Optional[float] = None, style: str = 'cae', init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        if depth < 0:
            raise ValueError(f'regressor depth must be >= 0, got {depth}')
        if style not in BLOCK_STYLES:
            raise ValueError(f'regressor style must be one of {BLOCK_STYLES}, got {style!r}')
        dim = encoder_spec.tokens.embed_dim
        self.style = style
        self.num_prefix_tokens = encoder_spec.tokens.num_prefix_tokens
        self.mask_token = nn.Parameter(torch.zeros(1, 1, dim))
        dpr = [drop_path_rate * i / max(depth - 1, 1) for i in range(depth)]
        self.blocks = nn.ModuleList([
            RegressorBlock(dim, num_heads or encoder_spec.tokens.num_heads, mlp_ratio,
                           drop_path=dpr[i], init_values=init_values, style=style)
            for i in range(depth)
        ])
        self.norm = LayerNorm6(dim)
        nn.init.normal_(self.mask_token, std=0.02)
        _init_linear(self)

    def forward(self, tokens: torch.Tensor, patch_mask: PatchMask,
                pos_embed: torch.Tensor) -> torch.Tensor:
        """Args:
            tokens: (B, P + L_keep, D) encoder output, the P prefix (cls) tokens first, the
                visible patches in ``patch_mask.ids_keep`` order.
            patch_mask: the batch's mask.
            pos_embed: (1, P + L, D) the encoder's position embedding for this grid.

        Returns:
            (B, L_removed, D) predicted latents of the masked patches (after a LayerNorm), in
            ``patch_mask.ids_removed`` order.
        """
        p = self.num_prefix_tokens
        if patch_mask.num_patches + p != pos_embed.shape[1]:
            raise ValueError(f'the position embedding has {pos_embed.shape[1] - p} patches, the '
                             f'mask {patch_mask.num_patches}')
        b = tokens.shape[0]
        patch_pos = pos_embed[:, p:].expand(b, -1, -1)
        pos_kv = patch_mask.keep(patch_pos)
        x_kv = tokens[:, p:]
        if self.style == 'prenorm':
            pos_kv = torch.cat([torch.zeros_like(pos_embed[:, :p]).expand(b, -1, -1), pos_kv],
                               dim=1)
            x_kv = tokens
        pos_q = patch_mask.removed(patch_pos)
        x_q = self.mask_token.expand(b, pos_q.shape[1], -1)
        for block in self.blocks:
            x_q = block(x_q, pos_q, x_kv, pos_kv)
        return self.norm(x_q)


@MODELS.register_module()
class CAEPretrainDecoder(BaseModule):
    """CAE's decoder: self-attention blocks over the predicted latents of the masked patches
    with their positions only (no visible tokens), at the encoder's width. The head on top maps
    each output to its target (token logits or pixels). Positions are the encoder's (handed in).

    Args:
        encoder_spec: the encoder's :class:`EncoderSpec` (filled in by the algorithm).
        depth: blocks (CAE: 4).
        num_heads: heads (default: the encoder's).
        mlp_ratio: MLP hidden width / width.
        drop_path_rate: stochastic depth, rising linearly over the blocks (CAE: 0.1).
        init_values: LayerScale initial value (CAE: 0.1); None: no LayerScale.
    """

    def __init__(self, encoder_spec: EncoderSpec, depth: int = 4, num_heads: Optional[int] = None,
                 mlp_ratio: float = 4.0, drop_path_rate: float = 0.0,
                 init_values: Optional[float] = None, init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        dim = encoder_spec.tokens.embed_dim
        self.num_prefix_tokens = encoder_spec.tokens.num_prefix_tokens
        dpr = [drop_path_rate * i / max(depth - 1, 1) for i in range(depth)]
        self.blocks = nn.ModuleList([
            Block(dim, num_heads or encoder_spec.tokens.num_heads, mlp_ratio=mlp_ratio,
                  qkv_bias=True, init_values=init_values, drop_path=dpr[i], norm_layer=LayerNorm6)
            for i in range(depth)
        ])
        self.norm = LayerNorm6(dim)
        _init_linear(self)

    def forward(self, latents: torch.Tensor, patch_mask: PatchMask,
                pos_embed: torch.Tensor) -> torch.Tensor:
        """(B, L_removed, D) latents of the removed patches, in ``patch_mask.ids_removed``
        order, with the encoder's (1, P + L, D) position embedding -> (B, L_removed, D)
        features for the head."""
        patch_pos = pos_embed[:, self.num_prefix_tokens:].expand(latents.shape[0], -1, -1)
        x = latents + patch_mask.removed(patch_pos)
        for block in self.blocks:
            x = block(x)
        return self.norm(x)
