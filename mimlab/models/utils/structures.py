"""Typed values passed between model parts."""
from dataclasses import dataclass, field, replace
from typing import Dict, Optional, Sequence, Tuple

import torch

from .masking import PatchMask


@dataclass(frozen=True)
class EncoderSpec:
    """Everything a neck or head learns about its encoder; they derive their sizes from it.

    Attributes:
        in_chans: image channels.
        embed_dim, depth, num_heads, patch_size, grid_size, num_prefix_tokens: the token layout
            of a ViT encoder (None for an encoder that is not one, e.g. a timm CNN: parts that
            work on tokens cannot be built on it).
        feature_channels, feature_strides: the feature maps the encoder's ``forward`` returns,
            shallow first (empty when it returns no feature maps); what DDeP's decoder is
            built for.
        pixel_mean, pixel_std: (C,) the normalisation of the encoder's inputs, in the input's
            pixel values (``inputs = (pixels - mean) / std``; None: the inputs are pixels).
            The algorithm fills them in from its data preprocessor.
    """
    in_chans: int
    embed_dim: Optional[int] = None
    depth: Optional[int] = None
    num_heads: Optional[int] = None
    patch_size: Optional[int] = None
    grid_size: Optional[Tuple[int, int]] = None
    num_prefix_tokens: int = 1
    feature_channels: Tuple[int, ...] = ()
    feature_strides: Tuple[int, ...] = ()
    pixel_mean: Optional[Tuple[float, ...]] = None
    pixel_std: Optional[Tuple[float, ...]] = None

    @property
    def num_patches(self) -> int:
        return self.grid_size[0] * self.grid_size[1]

    @property
    def patch_dim(self) -> int:
        """Values per patch: p * p * C."""
        return self.patch_size ** 2 * self.in_chans

    def normalised_by(self, mean: Optional[Sequence[float]],
                      std: Optional[Sequence[float]]) -> 'EncoderSpec':
        """This spec with the inputs' normalisation (None, None: raw pixels)."""
        for name, value in (('mean', mean), ('std', std)):
            if value is not None and len(value) != self.in_chans:
                raise ValueError(f'data_preprocessor.{name} has {len(value)} values for a '
                                 f'{self.in_chans}-channel encoder')
        return replace(self, pixel_mean=None if mean is None else tuple(map(float, mean)),
                       pixel_std=None if std is None else tuple(map(float, std)))

    def pixel_stats(self, like: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """(mean, std), each (1, C, 1, 1) in fp32 on ``like``'s device (0 and 1 for raw
        pixels)."""
        mean = self.pixel_mean or (0.0,) * self.in_chans
        std = self.pixel_std or (1.0,) * self.in_chans
        return (torch.tensor(mean, device=like.device).view(1, -1, 1, 1),
                torch.tensor(std, device=like.device).view(1, -1, 1, 1))

    def to_pixels(self, inputs: torch.Tensor) -> torch.Tensor:
        """Normalised (B, C, H, W) inputs -> pixel values (fp32)."""
        mean, std = self.pixel_stats(inputs)
        return inputs.float() * std + mean

    def normalise(self, pixels: torch.Tensor) -> torch.Tensor:
        """Pixel values (B, C, H, W) -> the encoder's normalised input space (fp32)."""
        mean, std = self.pixel_stats(pixels)
        return (pixels.float() - mean) / std


NOT_A_BACKBONE = (
    'A mimlab algorithm (MAE, CAE, ...) is a whole pretraining algorithm (encoder + decoder + '
    'head), not a backbone. Use its encoder: '
    "backbone=dict(type='mimlab.VisionTransformer', arch=..., patch_size=..., "
    "init_cfg=dict(type='Pretrained', checkpoint=CKPT, prefix='backbone.')), or write the encoder "
    'out first with mimlab.apis.export_backbone (tools/model_converters/export_backbone.py).')


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

    def _not_a_sequence(self, *args):
        # A downstream model (mmseg, mmdet) indexes or iterates its backbone's output: getting
        # this typed result means a whole pretraining algorithm sits where a backbone belongs.
        raise TypeError('EncoderOutput is one typed result (.tokens, .patch_mask, '
                        '.hidden_states), not a tuple of feature maps: a downstream model that '
                        'indexes it has a mimlab algorithm as its backbone. ' + NOT_A_BACKBONE)

    __getitem__ = __iter__ = __len__ = _not_a_sequence

    def __bool__(self) -> bool:  # not derived from __len__
        return True

    @property
    def mask(self) -> Optional[torch.Tensor]:
        return None if self.patch_mask is None else self.patch_mask.mask

    @property
    def ids_restore(self) -> Optional[torch.Tensor]:
        return None if self.patch_mask is None else self.patch_mask.ids_restore
