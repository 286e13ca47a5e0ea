"""MAE's lightweight decoder: visible tokens + mask tokens, un-shuffled, -> per-patch pixels."""
from typing import Optional

import torch
import torch.nn as nn
from mmengine.model import BaseModule
from timm.models.vision_transformer import Block

from mimlab.registry import MODELS
from ..utils import EncoderSpec, LayerNorm6, PatchMask, sincos_pos_embed_2d


@MODELS.register_module()
class MAEPretrainDecoder(BaseModule):
    """The MAE decoder (He et al. 2021, Sec. 3).

    Sizes that depend on the encoder (its width, patch grid, patch size and channels) come from
    ``encoder_spec``, which the algorithm passes at build time; the config states only the
    decoder's own widths.

    Args:
        encoder_spec: the encoder's :class:`EncoderSpec` (filled in by the algorithm).
        embed_dim: decoder width (paper: 512).
        depth: decoder blocks (paper: 8).
        num_heads: decoder heads (paper: 16).
        mlp_ratio: MLP hidden width / embed_dim.
        out_dim: width of each patch's prediction; None: the encoder's p*p*C pixels. MAE sets it
            from its built head (``head.in_dim``), e.g. features for a token head's own fc.
    """

    def __init__(self, encoder_spec: EncoderSpec, embed_dim: int = 512, depth: int = 8,
                 num_heads: int = 16, mlp_ratio: float = 4.0,
                 out_dim: Optional[int] = None, init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        if embed_dim % num_heads:
            raise ValueError(f'neck embed_dim={embed_dim} is not divisible by '
                             f'num_heads={num_heads}')
        self.encoder_spec = encoder_spec
        self.num_prefix_tokens = encoder_spec.tokens.num_prefix_tokens
        self.decoder_embed = nn.Linear(encoder_spec.tokens.embed_dim, embed_dim)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.decoder_pos_embed = nn.Parameter(
            sincos_pos_embed_2d(embed_dim, encoder_spec.tokens.grid_size, cls_token=True),
            requires_grad=False)
        self.decoder_blocks = nn.ModuleList([
            Block(embed_dim, num_heads, mlp_ratio=mlp_ratio, qkv_bias=True,
                  norm_layer=LayerNorm6) for _ in range(depth)
        ])
        self.decoder_norm = LayerNorm6(embed_dim)
        self.decoder_pred = nn.Linear(embed_dim, out_dim or encoder_spec.patch_dim)
        nn.init.normal_(self.mask_token, std=0.02)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs):
        # The position table is fixed sin-cos, a function of the grid: a checkpoint trained at
        # another image size (a converted 224-px MAE continued at 112 px) brings the table of its
        # own grid, so keep this model's, as the encoder resamples its own position embedding.
        key = prefix + 'decoder_pos_embed'
        if key in state_dict and state_dict[key].shape != self.decoder_pos_embed.shape:
            state_dict[key] = self.decoder_pos_embed.detach().clone()
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys,
                                      unexpected_keys, error_msgs)

    def forward(self, tokens: torch.Tensor, patch_mask: PatchMask) -> torch.Tensor:
        """Args:
            tokens: (B, 1 + L_keep, D_enc) encoder output (prefix tokens first); the decoder's
                mask token fills the L - L_keep missing places (none when the encoder saw mask
                tokens and returns all L, kept first).
            patch_mask: the batch's mask.

        Returns:
            (B, L, out_dim) predictions (p*p*C pixels by default), in patch order (prefix
            tokens dropped).
        """
        num_patches = patch_mask.num_patches
        if num_patches != self.decoder_pos_embed.shape[1] - self.num_prefix_tokens:
            raise ValueError(f'the decoder was built for {self.encoder_spec.tokens.grid_size} '
                             f'patches, got {num_patches}')
        x = self.decoder_embed(tokens)
        prefix, visible = x[:, :self.num_prefix_tokens], x[:, self.num_prefix_tokens:]
        mask_tokens = self.mask_token.expand(x.shape[0], num_patches - visible.shape[1], -1)
        x = patch_mask.restore(visible, mask_tokens)
        x = torch.cat([prefix, x], dim=1) + self.decoder_pos_embed
        for block in self.decoder_blocks:
            x = block(x)
        # The prediction in fp32 under mixed precision, like the loss: half-precision targets
        # and squared errors are where long AMP runs of MAE turn NaN.
        with torch.autocast(x.device.type, enabled=False):
            x = self.decoder_pred(self.decoder_norm(x.float()))
        return x[:, self.num_prefix_tokens:]
