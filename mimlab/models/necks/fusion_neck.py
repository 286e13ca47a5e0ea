"""MFF: multi-level feature fusion of encoder layers (Liu et al., ICCV 2023)."""
from typing import Dict, Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from timm.models.vision_transformer import Block

from mimlab.registry import MODELS
from ..utils import EncoderSpec, LayerNorm6

PROJECTIONS = ('linear', 'mlp')
FUSIONS = ('weighted', 'attention')


def default_fusion_layers(depth: int) -> tuple:
    """The paper's choice generalised: every (depth / 6)-th block up to two thirds of the depth,
    i.e. (0, 2, 4, 6, 8) for a 12-block ViT and (0, 4, 8, 12, 16) for a 24-block one."""
    step = max(1, depth // 6)
    return tuple(range(0, 2 * depth // 3 + 1, step))


@MODELS.register_module()
class MultiLevelFusionNeck(BaseModule):
    """Fuses the outputs of shallow encoder blocks with the last block's.

    Each extra layer's tokens go through their own projection (the last layer's do not), then
    they are fused: ``weighted``, a softmax-weighted average with learnable weights initialised
    equal; or ``attention``, one transformer block over the tokens of all layers side by side,
    keeping the last layer's tokens. The fused tokens are what the encoder's final norm and then
    the decoder see (so with no extra layers the output is exactly MAE's).

    Args:
        encoder_spec: the encoder's :class:`EncoderSpec` (filled in by the algorithm).
        layers: the extra (shallow) blocks to fuse, 0-based; the last block is always fused.
            None: :func:`default_fusion_layers` of the encoder's depth.
        projection: 'linear' or 'mlp' (Linear-GELU-Linear).
        fusion: 'weighted' or 'attention'.
        num_heads: heads of the attention fusion block (default: the encoder's).
    """

    def __init__(self, encoder_spec: EncoderSpec, layers: Optional[Sequence[int]] = None,
                 projection: str = 'linear', fusion: str = 'weighted',
                 num_heads: Optional[int] = None, init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        if projection not in PROJECTIONS:
            raise ValueError(f'fusion neck projection must be one of {PROJECTIONS}, '
                             f'got {projection!r}')
        if fusion not in FUSIONS:
            raise ValueError(f'fusion neck fusion must be one of {FUSIONS}, got {fusion!r}')
        depth, dim = encoder_spec.tokens.depth, encoder_spec.tokens.embed_dim
        layers = default_fusion_layers(depth) if layers is None else tuple(layers)
        bad = [i for i in layers if not 0 <= i < depth - 1]
        if bad or len(set(layers)) != len(layers):
            raise ValueError(f'fusion neck layers={list(layers)}: each must be a distinct block '
                             f'index in [0, {depth - 2}] (the last block, {depth - 1}, is always '
                             f'fused) for an encoder of depth {depth}')
        self.layers = tuple(sorted(layers))
        self.last_layer = depth - 1
        self.fusion = fusion
        self.projections = nn.ModuleList([self._projection(projection, dim) for _ in self.layers])
        if fusion == 'weighted':
            self.fusion_logits = nn.Parameter(torch.zeros(len(self.layers) + 1))
        else:
            self.fusion_block = Block(dim, num_heads or encoder_spec.tokens.num_heads,
                                      qkv_bias=True, norm_layer=LayerNorm6)

    @staticmethod
    def _projection(kind: str, dim: int) -> nn.Module:
        if kind == 'linear':
            layer = nn.Linear(dim, dim)
            nn.init.xavier_uniform_(layer.weight)
            nn.init.zeros_(layer.bias)
            return layer
        mlp = nn.Sequential(nn.Linear(dim, dim), nn.GELU(), nn.Linear(dim, dim))
        for m in mlp:
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)
        return mlp

    @property
    def hidden_layers(self) -> tuple:
        """The encoder blocks whose outputs this neck needs."""
        return (*self.layers, self.last_layer)

    def fusion_weights(self) -> Optional[torch.Tensor]:
        """Softmax weights, extra layers first and the last layer at the end (weighted fusion)."""
        if self.fusion != 'weighted':
            return None
        return F.softmax(self.fusion_logits, dim=0)

    def forward(self, hidden_states: Dict[int, torch.Tensor]) -> torch.Tensor:
        """Args:
            hidden_states: {block index: (B, N, D)} including every index of ``hidden_layers``.

        Returns:
            (B, N, D) fused tokens (before the encoder's final norm).
        """
        missing = [i for i in self.hidden_layers if i not in hidden_states]
        if missing:
            raise KeyError(f'fusion neck needs encoder blocks {missing}; got '
                           f'{sorted(hidden_states)}')
        feats = [proj(hidden_states[i]) for proj, i in zip(self.projections, self.layers)]
        last = hidden_states[self.last_layer]
        if self.fusion == 'weighted':
            stacked = torch.stack([*feats, last], dim=0)
            weights = self.fusion_weights().to(stacked.dtype).view(-1, 1, 1, 1)
            return (stacked * weights).sum(dim=0)
        n = last.shape[1]
        return self.fusion_block(torch.cat([last, *feats], dim=1))[:, :n]
