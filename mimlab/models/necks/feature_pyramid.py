"""Multi-scale feature maps from a plain ViT for dense heads (mmseg UperHead, mmdet FPN/RPN/RoI).

A ViT keeps one resolution (1/p of the input) through all its blocks. Two ways to build the
1/4 .. 1/32 pyramid that detection and segmentation heads expect:

- :class:`MultiDepthFeaturePyramid` (BEiT, MAE, Li et al. 2021): four maps from four depths of
  the encoder (e.g. blocks 3, 5, 7, 11 of 12), each rescaled by a fixed op: two stride-2
  deconvolutions (x4), one deconvolution (x2), identity (x1), 2x2 max-pooling (x1/2). Widths
  stay the encoder's; mmseg's UperHead takes them directly, mmdet's FPN after it
  (:class:`NeckSequence`).
- :class:`SimpleFeaturePyramid` (ViTDet, Li et al. 2022): all scales from the last map only,
  each followed by 1x1 and 3x3 convolutions to ``out_channels``, plus an optional extra
  top level (stride-2 subsampling) for an RPN's fifth anchor scale.

With patch size 16 the scale factors (4, 2, 1, 0.5) give strides 4, 8, 16, 32; with the demo's
4-px patches (1, 0.5, 0.25, 0.125) do.
"""
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmengine.model import BaseModule
from timm.layers import LayerNorm2d

from mimlab.registry import MODELS

NORM_TYPES = ('LN2d', 'BN', 'SyncBN', 'GN')


def contiguous_maps(maps) -> Tuple[torch.Tensor, ...]:
    """The maps in contiguous NCHW memory. Channel LayerNorm (``LN2d``) and the encoder's token
    maps come out channels-last in memory, convolutions keep that layout, and mmcv's CPU
    RoIAlign reads a channels-last map as if it were NCHW: the RoI features of Mask R-CNN were
    scrambled (its RoI head could not learn) until the necks handed over NCHW maps."""
    return tuple(m.contiguous() for m in maps)


def build_norm_2d(norm_cfg: Optional[dict], channels: int) -> nn.Module:
    """A normalisation of (B, C, H, W) maps from an mmcv-style ``norm_cfg`` (``LN2d``: channel
    LayerNorm as in ViTDet; ``BN``/``SyncBN``; ``GN`` with ``num_groups``); None: identity."""
    if norm_cfg is None:
        return nn.Identity()
    norm_type = norm_cfg.get('type')
    if norm_type == 'LN2d':
        return LayerNorm2d(channels, eps=norm_cfg.get('eps', 1e-6))
    if norm_type == 'BN':
        return nn.BatchNorm2d(channels)
    if norm_type == 'SyncBN':
        return nn.SyncBatchNorm(channels)
    if norm_type == 'GN':
        return nn.GroupNorm(norm_cfg.get('num_groups', 32), channels)
    raise ValueError(f'norm_cfg.type must be one of {NORM_TYPES}, got {norm_type!r}')


def _rescale(scale: float, channels: int, norm_cfg: Optional[dict],
             halve_channels: bool) -> Tuple[nn.Module, int]:
    """The op that rescales a (B, C, h, w) map by ``scale``: 4 or 2 (stride-2 deconvolutions),
    1 (identity) or 1/2^k (max-pooling with window and stride 2^k). Returns it and its output
    width (ViTDet halves the width at each deconvolution, BEiT keeps it)."""
    def deconv(c_in: int) -> Tuple[nn.Module, int]:
        c_out = c_in // 2 if halve_channels else c_in
        return nn.ConvTranspose2d(c_in, c_out, kernel_size=2, stride=2), c_out

    if scale == 4.0:
        first, mid = deconv(channels)
        second, out = deconv(mid)
        return nn.Sequential(first, build_norm_2d(norm_cfg, mid), nn.GELU(), second), out
    if scale == 2.0:
        return deconv(channels)
    if scale == 1.0:
        return nn.Identity(), channels
    pool = round(1 / scale) if scale > 0 else 0
    if pool >= 2 and pool & (pool - 1) == 0 and pool * scale == 1.0:
        return nn.MaxPool2d(kernel_size=pool, stride=pool), channels
    raise ValueError(f'scale factors must be 4, 2, 1 or 1/2^k (0.5, 0.25, ...), got {scale}')


@MODELS.register_module()
class MultiDepthFeaturePyramid(BaseModule):
    """BEiT/MAE multi-level neck: one map per encoder depth, rescaled to strides 4..32.

    Args:
        in_channels: the encoder's width (each input map's channels).
        scale_factors: one per input map: 4, 2, 1 or 1/2^k (with 4-px patches, (1, 0.5, 0.25,
            0.125) gives strides 4..32).
        norm_cfg: the norm between the two deconvolutions of the x4 branch (BEiT: SyncBN;
            BN on one process).

    Shapes: inputs a sequence of ``len(scale_factors)`` maps (B, C, h, w); outputs a tuple of
    maps (B, C, h * s, w * s).
    """

    def __init__(self, in_channels: int, scale_factors: Sequence[float] = (4.0, 2.0, 1.0, 0.5),
                 norm_cfg: Optional[dict] = dict(type='SyncBN'),
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.scale_factors = tuple(float(s) for s in scale_factors)
        self.branches = nn.ModuleList(
            _rescale(s, in_channels, norm_cfg, halve_channels=False)[0]
            for s in self.scale_factors)

    def forward(self, inputs: Sequence[torch.Tensor]) -> Tuple[torch.Tensor, ...]:
        if len(inputs) != len(self.branches):
            raise ValueError(f'{type(self).__name__} has {len(self.branches)} scale_factors but '
                             f'got {len(inputs)} maps: set the backbone\'s out_indices to '
                             f'{len(self.branches)} blocks')
        return contiguous_maps(branch(x) for branch, x in zip(self.branches, inputs))


@MODELS.register_module()
class SimpleFeaturePyramid(BaseModule):
    """ViTDet's simple feature pyramid from the encoder's last map.

    Args:
        in_channels: the encoder's width.
        out_channels: width of every output level (256 for mmdet's RPN/RoI heads).
        scale_factors: the levels: 4, 2, 1 or 1/2^k.
        num_outs: ``len(scale_factors)``, or one more for an extra top level (the last level
            subsampled by 2, as FPN's P6 for the RPN).
        norm_cfg: norm after each of the output convolutions and inside the x4 branch
            (ViTDet: channel LayerNorm, ``LN2d``).

    Shapes: inputs a sequence of maps of which the last, (B, C, h, w), is used; outputs
    ``num_outs`` maps (B, out_channels, h * s, w * s).
    """

    def __init__(self, in_channels: int, out_channels: int = 256,
                 scale_factors: Sequence[float] = (4.0, 2.0, 1.0, 0.5),
                 num_outs: Optional[int] = None, norm_cfg: Optional[dict] = dict(type='LN2d'),
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.scale_factors = tuple(float(s) for s in scale_factors)
        self.num_outs = num_outs or len(self.scale_factors)
        if self.num_outs not in (len(self.scale_factors), len(self.scale_factors) + 1):
            raise ValueError(f'num_outs must be {len(self.scale_factors)} or '
                             f'{len(self.scale_factors) + 1} for scale_factors '
                             f'{self.scale_factors}, got {num_outs}')
        stages: List[nn.Module] = []
        for scale in self.scale_factors:
            rescale, width = _rescale(scale, in_channels, norm_cfg, halve_channels=True)
            stages.append(nn.Sequential(
                rescale,
                nn.Conv2d(width, out_channels, 1, bias=norm_cfg is None),
                build_norm_2d(norm_cfg, out_channels),
                nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=norm_cfg is None),
                build_norm_2d(norm_cfg, out_channels)))
        self.stages = nn.ModuleList(stages)

    def forward(self, inputs: Sequence[torch.Tensor]) -> Tuple[torch.Tensor, ...]:
        x = inputs[-1]
        outs = [stage(x) for stage in self.stages]
        if self.num_outs > len(outs):
            outs.append(nn.functional.max_pool2d(outs[-1], kernel_size=1, stride=2))
        return contiguous_maps(outs)


@MODELS.register_module()
class NeckSequence(BaseModule):
    """Necks applied one after the other, e.g. :class:`MultiDepthFeaturePyramid` then mmdet's
    ``FPN`` (the MAE paper's detection neck); each is built in the caller's default scope, so
    mmdet's and mimlab's necks mix.

    Args:
        necks: their configs, in order.
    """

    def __init__(self, necks: Sequence[dict], init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if not necks:
            raise ValueError('NeckSequence needs at least one neck config in necks')
        self.necks = nn.ModuleList(MODELS.build(cfg) for cfg in necks)

    def forward(self, inputs):
        for neck in self.necks:
            inputs = neck(inputs)
        return contiguous_maps(inputs)
