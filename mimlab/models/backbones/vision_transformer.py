"""The ViT encoder: one class for pretraining and for downstream use (mmseg, mmdet, classification),
and :class:`MaskedViT`, the same ViT fed only the visible patches (MAE-style pretraining).

Three entries, one return type each (as timm's ``forward``/``forward_features``/
``forward_intermediates``):

- ``forward(images)``: the downstream output, a tuple with one tensor per ``out_indices`` entry
  (feature maps for mmseg/mmdet, or cls/avg/raw tokens), every patch;
- ``encode(images, hidden_layers=())``: an :class:`Encoding` of every patch (the final-normed
  tokens and the requested blocks' outputs), for features, probes, classifiers and analyses;
- ``MaskedViT.forward_masked(images, patch_mask=None, hidden_layers=())``: a
  :class:`MaskedEncoding` of the visible patches and the mask (pretraining).

Its parameter names are the same whether it is built inside a pretraining algorithm or alone, so a
pretraining checkpoint's ``backbone.`` keys load into it unchanged, at any input size (position
embeddings are resampled on load).
"""
import logging
import re
from fnmatch import fnmatch
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.utils.checkpoint as cp
from mmengine.logging import print_log
from mmengine.model import BaseModule
from timm.layers import PatchEmbed, resample_abs_pos_embed
from timm.models.vision_transformer import Block

from mimlab.registry import MODELS
from ..utils import (Encoding, EncoderSpec, FeatureMapLayout, LayerNorm6, MaskedEncoding, PatchMask,
                     TokenLayout, generate_mask, num_masked_patches, sincos_pos_embed_2d)
from ..utils.masking import MASK_MODES, grid_stride, seeded_masks
from ..utils.rel_pos import (infer_grid, num_relative_positions, relative_position_bias,
                             resize_rel_pos_table)
from ..utils.state_dict import group_keys, load_pretrained

ARCH_SETTINGS: Dict[str, Dict[str, int]] = {
    'tiny': dict(embed_dim=192, depth=12, num_heads=3),
    'small': dict(embed_dim=384, depth=12, num_heads=6),
    'base': dict(embed_dim=768, depth=12, num_heads=12),
    'large': dict(embed_dim=1024, depth=24, num_heads=16),
    'huge': dict(embed_dim=1280, depth=32, num_heads=16),
    # official CAE's ViT-T/S (Atten4Vis/CAE cae_{tiny,small}_patch16_224): 12 heads, not DeiT's
    # 3/6; qkv shapes do not depend on the head count, so only the arch tells them apart
    'cae-tiny': dict(embed_dim=192, depth=12, num_heads=12),
    'cae-small': dict(embed_dim=384, depth=12, num_heads=12),
}
OUT_TYPES = ('featmap', 'cls_token', 'avg', 'raw')
# The encoder's own trained parameters: a checkpoint key of this form that the model lacks means
# a different network (pretraining-only keys such as mask tokens are not among them).
ENCODER_PARAMETER = re.compile(r'^(cls_token|pos_embed|patch_embed\.|blocks\.|norm\.)')


def _option_for(dropped: List[str]) -> str:
    """The constructor option that would give the model the checkpoint's dropped parameters."""
    if any('.ls1.' in k or '.ls2.' in k for k in dropped):
        return 'the checkpoint was trained with LayerScale: set layer_scale_init_value > 0'
    if any('relative_position' in k for k in dropped):
        return 'the checkpoint has relative position bias: set use_rel_pos_bias=True'
    if any(k.startswith('norm.') for k in dropped):
        return 'the checkpoint has a final norm: set final_norm=True'
    if any(k.startswith('blocks.') for k in dropped):
        return 'the checkpoint has more blocks: set arch (depth) to its encoder\'s'
    return 'build the encoder as the checkpoint\'s (arch, patch_size, in_chans)'


def _to_2tuple(x: Union[int, Sequence[int]]) -> Tuple[int, int]:
    return (x, x) if isinstance(x, int) else (int(x[0]), int(x[1]))


@MODELS.register_module()
class VisionTransformer(BaseModule):
    """Vision Transformer (Dosovitskiy et al.) built from timm's ``PatchEmbed`` and ``Block``
    (attention through ``F.scaled_dot_product_attention``), initialised as in MAE.

    Args:
        arch: one of ``ARCH_SETTINGS`` ('tiny', 'small', 'base', 'large', 'huge'; 'cae-tiny' and
            'cae-small' with official CAE's 12 heads) or a dict with ``embed_dim``, ``depth``,
            ``num_heads``.
        img_size: the input size the position embedding is built for; other sizes that are
            multiples of ``patch_size`` work (the embedding is resampled).
        patch_size: p.
        in_chans: image channels.
        mlp_ratio: MLP hidden width / embed_dim.
        qkv_bias: bias in the qkv projection.
        drop_path_rate: stochastic depth, rising linearly to this value over the blocks.
        pos_embed_type: 'sincos' (fixed, MAE) or 'learned'.
        out_indices: blocks whose outputs ``forward`` returns (negative counts from the end).
        out_type: 'featmap' (B, D, h, w) for mmseg/mmdet, 'cls_token' (B, D), 'avg' (B, D) mean
            of the patch tokens, or 'raw' (B, 1 + L, D).
        final_norm: apply the last LayerNorm to the last block's output.
        frozen_stages: freeze the patch embedding and the first ``frozen_stages`` blocks (0 freezes
            only the embedding, -1 nothing).
        layer_scale_init_value: > 0 adds timm's LayerScale (``ls1``/``ls2``, BEiT's and CAE's
            ``gamma_1``/``gamma_2``) initialised to this value.
        use_rel_pos_bias: BEiT-style relative position bias in every block (a table per block,
            ``blocks.i.attn.relative_position_bias_table``, zeros at start), on top of the absolute
            position embedding; resized to the input's grid. Needs all patches (no masking).
        patch_embed_init: 'xavier' (MAE: xavier-uniform of the projection as a linear map) or
            'trunc_normal' (CAE: truncated normal, std 0.02, zero bias, as mmpretrain's
            ``CAEPretrainViT``; official CAE truncates at +-std).
        with_cp: activation checkpointing: in training, each block's activations are recomputed
            in the backward pass instead of stored (less memory for large encoders, ~1/3 more
            compute).
        init_cfg: mmengine init config, e.g. ``dict(type='Pretrained', checkpoint=...,
            prefix='backbone.')`` for a mimlab pretraining checkpoint. Such a load logs what did not
            load (missing and unexpected keys, grouped) and fails when nothing does, when a
            tensor has another shape than the model's (after resampling the position embedding
            and relative position tables), or when the checkpoint's encoder has trained
            parameters this model lacks (LayerScale gammas of a CAE encoder into a ViT without
            LayerScale, relative position tables, extra blocks, the final norm): the error names
            the option to set. ``drop_keys`` in the init_cfg (fnmatch patterns, e.g.
            ``['norm.*']``) names the ones to drop knowingly; each pattern must match one.
    """

    def __init__(self,
                 arch: Union[str, dict] = 'base',
                 img_size: Union[int, Sequence[int]] = 224,
                 patch_size: int = 16,
                 in_chans: int = 3,
                 mlp_ratio: float = 4.0,
                 qkv_bias: bool = True,
                 drop_path_rate: float = 0.0,
                 pos_embed_type: str = 'sincos',
                 out_indices: Union[int, Sequence[int]] = -1,
                 out_type: str = 'featmap',
                 final_norm: bool = True,
                 frozen_stages: int = -1,
                 layer_scale_init_value: float = 0.0,
                 use_rel_pos_bias: bool = False,
                 init_cfg: Optional[dict] = None,
                 with_cp: bool = False,
                 patch_embed_init: str = 'xavier') -> None:
        super().__init__(init_cfg=init_cfg)
        if isinstance(arch, str):
            if arch not in ARCH_SETTINGS:
                raise KeyError(f'backbone arch {arch!r} is not one of {sorted(ARCH_SETTINGS)}')
            arch = ARCH_SETTINGS[arch]
        missing = {'embed_dim', 'depth', 'num_heads'} - set(arch)
        if missing:
            raise KeyError(f'backbone arch dict lacks {sorted(missing)}')
        self.embed_dim = int(arch['embed_dim'])
        self.depth = int(arch['depth'])
        self.num_heads = int(arch['num_heads'])
        if self.embed_dim % self.num_heads:
            raise ValueError(f'backbone embed_dim={self.embed_dim} is not divisible by '
                             f'num_heads={self.num_heads}')
        img_size = _to_2tuple(img_size)
        if img_size[0] % patch_size or img_size[1] % patch_size:
            raise ValueError(f'backbone img_size={img_size} is not divisible by '
                             f'patch_size={patch_size}')
        if pos_embed_type not in ('sincos', 'learned'):
            raise ValueError(f"backbone pos_embed_type must be 'sincos' or 'learned', "
                             f'got {pos_embed_type!r}')
        if out_type not in OUT_TYPES:
            raise ValueError(f'out_type must be one of {OUT_TYPES}, got {out_type!r}')
        if patch_embed_init not in ('xavier', 'trunc_normal'):
            raise ValueError("backbone patch_embed_init must be 'xavier' or 'trunc_normal', got "
                             f'{patch_embed_init!r}')
        self.patch_embed_init = patch_embed_init
        self.patch_size = patch_size
        self.in_chans = in_chans
        self.out_type = out_type
        self.final_norm = final_norm
        self.frozen_stages = frozen_stages
        self.with_cp = with_cp
        self.pos_embed_type = pos_embed_type

        self.patch_embed = PatchEmbed(img_size=img_size, patch_size=patch_size, in_chans=in_chans,
                                      embed_dim=self.embed_dim, strict_img_size=False)
        self.grid_size = tuple(self.patch_embed.grid_size)
        self.num_prefix_tokens = 1
        self.cls_token = nn.Parameter(torch.zeros(1, 1, self.embed_dim))
        self.pos_embed = nn.Parameter(
            torch.zeros(1, self.num_prefix_tokens + self.patch_embed.num_patches, self.embed_dim),
            requires_grad=pos_embed_type == 'learned')
        dpr = [drop_path_rate * i / max(self.depth - 1, 1) for i in range(self.depth)]
        self.blocks = nn.ModuleList([
            Block(self.embed_dim, self.num_heads, mlp_ratio=mlp_ratio, qkv_bias=qkv_bias,
                  init_values=layer_scale_init_value or None, drop_path=dpr[i],
                  norm_layer=LayerNorm6) for i in range(self.depth)
        ])
        self.use_rel_pos_bias = use_rel_pos_bias
        if use_rel_pos_bias:
            for block in self.blocks:  # timm's Attention takes the bias as its attn_mask
                block.attn.relative_position_bias_table = nn.Parameter(
                    torch.zeros(num_relative_positions(self.grid_size), self.num_heads))
        self.norm = LayerNorm6(self.embed_dim) if final_norm else nn.Identity()

        indices = [out_indices] if isinstance(out_indices, int) else list(out_indices)
        self.out_indices = [self._check_index(i, 'out_indices') for i in indices]
        self._init_mae_weights()
        self._freeze_stages()

    def _check_index(self, index: int, key: str) -> int:
        resolved = index + self.depth if index < 0 else index
        if not 0 <= resolved < self.depth:
            raise IndexError(f'{key} holds {index}, outside a backbone of depth {self.depth}')
        return resolved

    @property
    def spec(self) -> EncoderSpec:
        """Its sizes; with ``out_type='featmap'`` the feature maps ``forward`` returns (one per
        ``out_indices`` entry, at the patch stride)."""
        maps = len(set(self.out_indices))
        return EncoderSpec(
            in_chans=self.in_chans,
            tokens=TokenLayout(embed_dim=self.embed_dim, depth=self.depth,
                               num_heads=self.num_heads, patch_size=self.patch_size,
                               grid_size=self.grid_size, num_prefix_tokens=self.num_prefix_tokens),
            feature_maps=(FeatureMapLayout(channels=(self.embed_dim,) * maps,
                                           strides=(self.patch_size,) * maps)
                          if self.out_type == 'featmap' else None))

    def _init_mae_weights(self) -> None:
        """MAE's initialisation: sin-cos or truncated-normal positions, xavier-uniform linear
        layers and patch projection (as a linear map; or truncated normal 0.02, CAE), normal(0.02)
        cls token."""
        if self.pos_embed_type == 'sincos':
            self.pos_embed.data.copy_(sincos_pos_embed_2d(self.embed_dim, self.grid_size,
                                                          cls_token=True))
        else:
            nn.init.trunc_normal_(self.pos_embed, std=0.02)
        w = self.patch_embed.proj.weight.data
        if self.patch_embed_init == 'trunc_normal':
            nn.init.trunc_normal_(w, std=0.02)
            nn.init.zeros_(self.patch_embed.proj.bias)
        else:
            nn.init.xavier_uniform_(w.view(w.shape[0], -1))
        nn.init.normal_(self.cls_token, std=0.02)
        for m in self.blocks.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def _freeze_stages(self) -> None:
        if self.frozen_stages < 0:
            return
        frozen = [self.patch_embed, *self.blocks[:self.frozen_stages]]
        if self.frozen_stages >= self.depth:
            frozen.append(self.norm)
        for module in frozen:
            module.eval()
            for p in module.parameters():
                p.requires_grad = False
        self.cls_token.requires_grad = False
        self.pos_embed.requires_grad = False

    def train(self, mode: bool = True) -> 'VisionTransformer':
        super().train(mode)
        self._freeze_stages()
        return self

    def get_layer_depth(self, param_name: str, prefix: str = '') -> Tuple[int, int]:
        """Layer id of a parameter for layer-wise lr decay: 0 for the embeddings, i + 1 for block
        i, depth + 1 for everything after the blocks. Returns (layer id, number of layers)."""
        num_layers = self.depth + 2
        name = param_name[len(prefix):] if param_name.startswith(prefix) else param_name
        if name.startswith(('cls_token', 'pos_embed', 'patch_embed')):
            return 0, num_layers
        if name.startswith('blocks.'):
            return int(name.split('.')[1]) + 1, num_layers
        return num_layers - 1, num_layers

    def pos_embed_for(self, grid: Tuple[int, int]) -> torch.Tensor:
        """The position embedding (1, 1 + h*w, D) for a grid of patches, resampled if needed."""
        if tuple(grid) == self.grid_size:
            return self.pos_embed
        if self.pos_embed_type == 'sincos':
            return sincos_pos_embed_2d(self.embed_dim, grid, cls_token=True).to(self.pos_embed)
        return resample_abs_pos_embed(self.pos_embed, list(grid), list(self.grid_size),
                                      num_prefix_tokens=self.num_prefix_tokens)

    def embed(self, images: torch.Tensor) -> Tuple[torch.Tensor, Tuple[int, int]]:
        """Patch tokens with positions, (B, L, D), and the patch grid (h, w); no cls token."""
        b, c, h, w = images.shape
        if c != self.in_chans:
            raise ValueError(f'backbone expects {self.in_chans}-channel images, got shape '
                             f'{tuple(images.shape)}')
        if h % self.patch_size or w % self.patch_size:
            raise ValueError(f'input size {h}x{w} is not divisible by patch_size='
                             f'{self.patch_size}')
        grid = (h // self.patch_size, w // self.patch_size)
        x = self.patch_embed(images)
        return x + self.pos_embed_for(grid)[:, self.num_prefix_tokens:], grid

    def with_cls_token(self, x: torch.Tensor) -> torch.Tensor:
        cls = self.cls_token + self.pos_embed[:, :self.num_prefix_tokens]
        return torch.cat([cls.expand(x.shape[0], -1, -1), x], dim=1)

    def attn_biases(self, grid: Optional[Tuple[int, int]]) -> List[Optional[torch.Tensor]]:
        """Each block's additive attention bias for cls + the patches of ``grid`` (None without
        relative position bias)."""
        if not self.use_rel_pos_bias:
            return [None] * self.depth
        if grid is None:
            raise ValueError('use_rel_pos_bias=True needs the full patch grid: relative position '
                             'bias is not supported on masked inputs')
        return [relative_position_bias(b.attn.relative_position_bias_table, self.grid_size, grid)
                for b in self.blocks]

    def _run_block(self, block: nn.Module, x: torch.Tensor,
                   bias: Optional[torch.Tensor] = None) -> torch.Tensor:
        kwargs = {} if bias is None else dict(attn_mask=bias)
        if self.with_cp and self.training and torch.is_grad_enabled():
            return cp.checkpoint(block, x, use_reentrant=False, **kwargs)
        return block(x, **kwargs)

    def run_blocks(self, x: torch.Tensor, hidden_layers: Sequence[int] = (),
                   grid: Optional[Tuple[int, int]] = None
                   ) -> Tuple[torch.Tensor, Dict[int, torch.Tensor]]:
        """Blocks over a token sequence (cls first): the final-normed output and the requested
        blocks' outputs (before the final norm). ``grid``: the patch grid when the sequence holds
        all patches (needed by relative position bias)."""
        wanted = {self._check_index(i, 'hidden_layers') for i in hidden_layers}
        hidden = {}
        for i, (block, bias) in enumerate(zip(self.blocks, self.attn_biases(grid))):
            x = self._run_block(block, x, bias)
            if i in wanted:
                hidden[i] = x
        return self.norm(x), hidden

    def encode(self, images: torch.Tensor, hidden_layers: Sequence[int] = ()) -> Encoding:
        """Every patch, nothing masked: the (B, 1 + L, D) final-normed tokens and the outputs of
        the ``hidden_layers`` blocks (features, probes, classifiers, analyses)."""
        x, grid = self.embed(images)
        tokens, hidden = self.run_blocks(self.with_cls_token(x), hidden_layers, grid)
        return Encoding(tokens=tokens, hidden_states=hidden)

    def forward(self, images: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        """Downstream forward over all patches: one output per ``out_indices`` entry."""
        x, grid = self.embed(images)
        last, hidden = self.run_blocks(self.with_cls_token(x), self.out_indices, grid)
        # the last block's output is taken after the final norm, the others before it
        return tuple(self._format(last if i == self.depth - 1 else hidden[i], grid)
                     for i in sorted(set(self.out_indices)))

    def _format(self, tokens: torch.Tensor, grid: Tuple[int, int]) -> torch.Tensor:
        if self.out_type == 'raw':
            return tokens
        if self.out_type == 'cls_token':
            return tokens[:, 0]
        patches = tokens[:, self.num_prefix_tokens:]
        if self.out_type == 'avg':
            return patches.mean(dim=1)
        b, _, d = patches.shape
        # contiguous NCHW: the transposed view is channels-last in memory, convolutions keep that
        # layout, and mmcv's CPU RoIAlign reads channels-last maps as if they were NCHW
        # (scrambled RoI features: Mask R-CNN's RoI head could not learn)
        return patches.transpose(1, 2).reshape(b, d, *grid).contiguous()

    def init_weights(self) -> None:
        """MAE's initialisation (done at build), or with ``init_cfg=dict(type='Pretrained',
        checkpoint=..., prefix=...)`` a load that reports its key diff (see
        :func:`~mimlab.models.utils.state_dict.load_pretrained`)."""
        cfg = self.init_cfg
        if isinstance(cfg, dict) and cfg.get('type') == 'Pretrained':
            diff = load_pretrained(self, cfg['checkpoint'], prefix=cfg.get('prefix'))
            dropped = [k for k in diff.unexpected if ENCODER_PARAMETER.match(k)]
            allowed = list(cfg.get('drop_keys', ()))
            unnamed = [k for k in dropped if not any(fnmatch(k, p) for p in allowed)]
            if unnamed:
                raise ValueError(
                    f"{cfg['checkpoint']}: the checkpoint's encoder has trained parameters this "
                    f'{type(self).__name__} lacks ({", ".join(group_keys(unnamed, 4))}): '
                    f'{_option_for(unnamed)}; or name them in init_cfg.drop_keys (patterns, '
                    "e.g. ['norm.*']) to load the rest and drop them knowingly")
            idle = [p for p in allowed if not any(fnmatch(k, p) for k in dropped)]
            if idle:
                raise ValueError(f"{cfg['checkpoint']}: init_cfg.drop_keys {idle} match no "
                                 'trained encoder parameter the model lacks (the checkpoint '
                                 f'drops {group_keys(dropped, 4) or "none"})')
            print_log(diff.report(f"{cfg['checkpoint']} ({type(self).__name__}, prefix "
                                  f"{cfg.get('prefix')!r})"), logger='current',
                      level=logging.INFO if diff.clean else logging.WARNING)
            self._is_init = True
            return
        super().init_weights()

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs):
        # Resample a checkpoint's position embedding (and relative position tables) to this
        # model's grid (e.g. a 224-px MAE checkpoint into a 512-px UperNet backbone, or a 512x1024
        # one), so no conversion step is needed. A stored grid is taken to be square, else of this
        # model's aspect ratio.
        key = prefix + 'pos_embed'
        if key in state_dict and state_dict[key].shape != self.pos_embed.shape:
            old = state_dict[key]
            try:
                old_grid = infer_grid(old.shape[1] - self.num_prefix_tokens, self.grid_size)
            except ValueError as err:
                error_msgs.append(f'{key}: {err}')
            else:
                state_dict[key] = resample_abs_pos_embed(
                    old, list(self.grid_size), list(old_grid),
                    num_prefix_tokens=self.num_prefix_tokens)
        for i, block in enumerate(self.blocks if self.use_rel_pos_bias else ()):
            key = f'{prefix}blocks.{i}.attn.relative_position_bias_table'
            own = block.attn.relative_position_bias_table
            if key in state_dict and state_dict[key].shape != own.shape:
                old = state_dict[key]
                try:
                    old_grid = infer_grid(old.shape[0], self.grid_size,
                                          lambda h, w: num_relative_positions((h, w)))
                except ValueError as err:
                    error_msgs.append(f'{key}: {err}')
                else:
                    state_dict[key] = resize_rel_pos_table(old, old_grid, self.grid_size)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys,
                                      unexpected_keys, error_msgs)


@MODELS.register_module()
class MaskedViT(VisionTransformer):
    """ViT encoder that masks its input: patches -> +positions -> drop masked -> +cls -> blocks.

    It adds no parameters to :class:`VisionTransformer` (unless ``mask_tokens``), so its
    checkpoint keys are the plain ViT's; ``forward`` and ``encode`` are the ViT's (every patch),
    and the masked path is :meth:`forward_masked`. Extra args (the rest as
    :class:`VisionTransformer`):

    Args:
        mask_ratio: fraction of patches removed, in (0, 1).
        mask_mode: 'random' (MAE), 'block' or 'grid' (see :func:`generate_mask`).
        block_min_patches, block_max_aspect: the smallest rectangle and the largest aspect ratio
            of 'block' masking (BEiT/CAE: 16 patches, 1 / 0.3).
        mask_tokens: MAE's "encoder w/ [M]" ablation: removed patches are replaced by a learnable
            mask token (plus their position) and the encoder runs on all L patches. The output
            keeps the visible-only layout's order (kept patches first, then removed, undone by
            ``ids_restore``), so the decoder takes the encoder's L tokens and adds none of its
            own. Adds the parameter ``mask_token`` (not in the downstream ViT).
    """

    def __init__(self, mask_ratio: float = 0.75, mask_mode: str = 'random',
                 block_min_patches: int = 16, block_max_aspect: float = 1 / 0.3,
                 mask_tokens: bool = False, **kwargs) -> None:
        kwargs.setdefault('out_type', 'raw')
        super().__init__(**kwargs)
        num_masked_patches(self.patch_embed.num_patches, mask_ratio)  # validates the ratio
        if mask_mode not in MASK_MODES:
            raise ValueError(f'backbone mask_mode {mask_mode!r} is not one of {MASK_MODES}')
        if mask_mode == 'grid':
            grid_stride(mask_ratio)
        if block_min_patches < 1 or block_max_aspect < 1:
            raise ValueError('backbone block_min_patches must be >= 1 and block_max_aspect >= 1, '
                             f'got {block_min_patches} and {block_max_aspect}')
        self.mask_ratio = mask_ratio
        self.mask_mode = mask_mode
        self.block_options = dict(min_block=block_min_patches, max_aspect=block_max_aspect)
        self.mask_tokens = mask_tokens
        if mask_tokens:
            self.mask_token = nn.Parameter(torch.zeros(1, 1, self.embed_dim))
            nn.init.normal_(self.mask_token, std=0.02)

    def seeded_mask(self, images: torch.Tensor, seeds: Sequence[int]) -> PatchMask:
        """This encoder's mask for each of ``images`` (B, C, H, W), drawn from ``seeds[i]``
        alone (:func:`~mimlab.models.utils.masking.seeded_masks`): held-out evaluation masks
        an image the same way in any batch and on any number of processes."""
        patch = self.patch_embed.patch_size
        ph, pw = (patch, patch) if isinstance(patch, int) else patch
        grid = (images.shape[-2] // ph, images.shape[-1] // pw)
        mode_options = self.block_options if self.mask_mode == 'block' else {}
        return seeded_masks(seeds, grid, self.mask_ratio, self.mask_mode, images.device,
                            **mode_options)

    def get_layer_depth(self, param_name: str, prefix: str = '') -> Tuple[int, int]:
        """As :class:`VisionTransformer`, with the encoder's mask token among the embeddings."""
        name = param_name[len(prefix):] if param_name.startswith(prefix) else param_name
        if name == 'mask_token':
            return 0, self.depth + 2
        return super().get_layer_depth(param_name, prefix)

    def forward_masked(self, images: torch.Tensor, patch_mask: Optional[PatchMask] = None,
                       hidden_layers: Sequence[int] = (),
                       generator: Optional[torch.Generator] = None) -> MaskedEncoding:
        """Encode the visible patches of a batch.

        Args:
            images: (B, C, H, W), normalised.
            patch_mask: use this mask instead of drawing one (e.g. its ``complement()``); None:
                draw ``mask_ratio`` of the patches in ``mask_mode``.
            hidden_layers: blocks whose outputs to return in ``hidden_states`` (for fusion necks).
            generator: random generator for the drawn mask (None: torch's global RNG).

        Returns:
            MaskedEncoding with tokens (B, 1 + L_keep, D); with ``mask_tokens`` (B, 1 + L, D),
            kept patches first.
        """
        x, grid = self.embed(images)
        if patch_mask is None:
            patch_mask = generate_mask(x.shape[0], grid, self.mask_ratio, self.mask_mode,
                                       generator=generator, device=x.device,
                                       **self.block_options)
        if self.mask_tokens:
            # the mask token takes the removed patches' places (their positions added), and the
            # sequence is put in the [kept, removed] order that ids_restore undoes
            positions = self.pos_embed_for(grid)[:, self.num_prefix_tokens:]
            x = torch.where(patch_mask.mask.unsqueeze(-1), self.mask_token + positions, x)
            x = torch.cat([patch_mask.keep(x), patch_mask.removed(x)], dim=1)
        else:
            x = patch_mask.keep(x)
        tokens, hidden = self.run_blocks(self.with_cls_token(x), hidden_layers)
        return MaskedEncoding(tokens=tokens, patch_mask=patch_mask, hidden_states=hidden)
