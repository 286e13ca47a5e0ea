"""CAE's attentive probe: a learnable query attends to the frozen encoder's tokens."""
from typing import Optional

import torch
import torch.nn as nn

from mimlab.registry import MODELS
from ..necks.cae_regressor import CrossAttention
from ..utils import EncoderSpec, LayerNorm6
from .cls_head import LinearClsHead


@MODELS.register_module()
class AttentiveClsHead(LinearClsHead):
    """Attentive probing (CAE, Chen et al. 2022, Sec. 4; official CAE ``modeling_finetune.py``
    with ``linear_type='attentive'``): one learnable query token (zeros at start) attends, in one
    cross-attention layer, to all the encoder's output tokens (cls token included); keys are
    ``norm_k(tokens)``, values ``norm_v(tokens)``, the query ``norm_q(query)``; the attention
    output (no residual, no MLP) goes through BatchNorm without affine parameters and a linear
    classifier. With ``model.trainable_blocks=0`` the encoder is frozen and only this head
    trains: a probe that, unlike the linear probe on the cls token, can pick the patch tokens it
    needs, for any method's encoder.

    Args:
        encoder_spec: the encoder's :class:`EncoderSpec` (filled in by the algorithm).
        num_classes: classes.
        num_heads: heads of the cross-attention (default: the encoder's, as CAE).
        batch_norm: CAE's ``LP_BatchNorm(affine=False)`` before the classifier (eps 1e-6 here,
            as mimlab's linear probe).
        label_smoothing: as :class:`LinearClsHead`.
        init_std: std of the classifier's normal (not truncated) init, zero bias (official
            ``run_attentive.py``: ``head.weight.data.normal_(mean=0.0, std=0.01)``).
    """
    POOLS = ('attentive',)

    def __init__(self, encoder_spec: EncoderSpec, num_classes: int,
                 num_heads: Optional[int] = None, batch_norm: bool = True,
                 label_smoothing: float = 0.0, init_std: float = 0.01, init_cfg=None) -> None:
        super().__init__(encoder_spec, num_classes, pool='attentive',
                         label_smoothing=label_smoothing, batch_norm=batch_norm,
                         init_std=init_std, init_cfg=init_cfg)
        nn.init.normal_(self.fc.weight, std=init_std)
        dim = encoder_spec.tokens.embed_dim
        self.query_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.norm_q, self.norm_k, self.norm_v = LayerNorm6(dim), LayerNorm6(dim), LayerNorm6(dim)
        self.cross_attn = CrossAttention(dim, num_heads or encoder_spec.tokens.num_heads,
                                         qkv_bias=True)
        for m in self.cross_attn.modules():  # CAE's _init_weights
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def pool_tokens(self, tokens: torch.Tensor) -> torch.Tensor:
        """(B, N, D) encoder tokens -> (B, D) the query's attention output."""
        query = self.query_token.expand(tokens.shape[0], -1, -1)
        out = self.cross_attn(self.norm_q(query), self.norm_k(tokens), self.norm_v(tokens))
        return out[:, 0]
