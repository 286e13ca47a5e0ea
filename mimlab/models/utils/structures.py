"""The contracts between model parts: what a part learns about its encoder (:class:`EncoderSpec`),
what an encoder returns (:class:`Encoding`, :class:`MaskedEncoding`) and the one protocol of the
masked-prediction heads (:class:`MaskedPredictionHead`)."""
from dataclasses import dataclass, field, replace
from typing import Dict, Optional, Sequence, Tuple

import torch
from mmengine.model import BaseModule

from .masking import PatchMask


@dataclass(frozen=True)
class PixelNormalisation:
    """The normalisation of a model's inputs, ``inputs = (pixels - mean) / std``, in the
    pixels' own values (0-255 for images): the data preprocessor's ``mean``/``std``. The spec,
    the dVAE and the pictures undo it through this one value.

    Attributes:
        mean, std: (C,) per channel; None: the inputs are pixels.
    """
    mean: Optional[Tuple[float, ...]] = None
    std: Optional[Tuple[float, ...]] = None

    @classmethod
    def of(cls, mean: Optional[Sequence[float]],
           std: Optional[Sequence[float]]) -> 'PixelNormalisation':
        """From a data preprocessor's ``mean`` and ``std`` (lists, tensors or None)."""
        def values(v):
            if v is None:
                return None
            return tuple(v.flatten().tolist() if isinstance(v, torch.Tensor) else map(float, v))
        return cls(values(mean), values(std))

    def stats(self, like: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """(mean, std), each (1, C, 1, 1) in fp32 on ``like``'s device (0 and 1 for raw
        pixels)."""
        channels = like.shape[1]
        mean = self.mean or (0.0,) * channels
        std = self.std or (1.0,) * channels
        return (torch.tensor(mean, device=like.device).view(1, -1, 1, 1),
                torch.tensor(std, device=like.device).view(1, -1, 1, 1))

    def to_pixels(self, inputs: torch.Tensor) -> torch.Tensor:
        """Normalised (B, C, H, W) inputs -> pixel values (fp32)."""
        mean, std = self.stats(inputs)
        return inputs.float() * std + mean

    def normalise(self, pixels: torch.Tensor) -> torch.Tensor:
        """Pixel values (B, C, H, W) -> the normalised input space (fp32)."""
        mean, std = self.stats(pixels)
        return (pixels.float() - mean) / std


@dataclass(frozen=True)
class TokenLayout:
    """The token sequence of a ViT encoder.

    Attributes:
        embed_dim, depth, num_heads: width, blocks and attention heads.
        patch_size, grid_size: p and the (h, w) patch grid of the input size it was built for.
        num_prefix_tokens: tokens before the patches (the cls token).
    """
    embed_dim: int
    depth: int
    num_heads: int
    patch_size: int
    grid_size: Tuple[int, int]
    num_prefix_tokens: int = 1

    @property
    def num_patches(self) -> int:
        return self.grid_size[0] * self.grid_size[1]


@dataclass(frozen=True)
class FeatureMapLayout:
    """The feature maps an encoder's ``forward`` returns, shallow first.

    Attributes:
        channels, strides: per map.
    """
    channels: Tuple[int, ...]
    strides: Tuple[int, ...]


@dataclass(frozen=True)
class EncoderSpec:
    """Everything a neck or head learns about its encoder; they derive their sizes from it.

    Attributes:
        in_chans: image channels.
        tokens: the token layout of a ViT encoder; None for one that has none (a timm CNN):
            parts that work on tokens cannot be built on it.
        feature_maps: the feature maps its ``forward`` returns (what DDeP's decoder is built
            for); None when it returns none.
        pixels: the normalisation of the encoder's inputs; the algorithm fills it in from its
            data preprocessor.
    """
    in_chans: int
    tokens: Optional[TokenLayout] = None
    feature_maps: Optional[FeatureMapLayout] = None
    pixels: PixelNormalisation = PixelNormalisation()

    @property
    def patch_dim(self) -> int:
        """Values per patch: p * p * C."""
        return self.tokens.patch_size ** 2 * self.in_chans

    def normalised_by(self, pixels: PixelNormalisation) -> 'EncoderSpec':
        """This spec with the inputs' normalisation."""
        for name, value in (('mean', pixels.mean), ('std', pixels.std)):
            if value is not None and len(value) != self.in_chans:
                raise ValueError(f'data_preprocessor.{name} has {len(value)} values for a '
                                 f'{self.in_chans}-channel encoder')
        return replace(self, pixels=pixels)


@dataclass
class Encoding:
    """What an encoder's ``encode`` returns: every patch, nothing masked.

    Attributes:
        tokens: (B, 1 + L, D) the cls token and the patch tokens after the final norm.
        hidden_states: the outputs of the requested blocks, {block index: (B, 1 + L, D)},
            before the final norm.
    """
    tokens: torch.Tensor
    hidden_states: Dict[int, torch.Tensor] = field(default_factory=dict)


@dataclass
class MaskedEncoding:
    """What a masked encoder's ``forward_masked`` returns.

    Attributes:
        tokens: (B, 1 + L_keep, D) the cls token and the visible patch tokens after the final
            norm (an encoder that sees mask tokens returns all L, kept first: ``ids_restore``
            orders either).
        patch_mask: the batch's mask.
        hidden_states: the outputs of the requested blocks, {block index: (B, 1 + L_keep, D)},
            before the final norm.
    """
    tokens: torch.Tensor
    patch_mask: PatchMask
    hidden_states: Dict[int, torch.Tensor] = field(default_factory=dict)

    @property
    def mask(self) -> torch.Tensor:
        return self.patch_mask.mask

    @property
    def ids_restore(self) -> torch.Tensor:
        return self.patch_mask.ids_restore


class MaskedPredictionHead(BaseModule):
    """Base of the heads that score predictions of the removed patches (MAE's pixel head, CAE's
    token and pixel heads): an algorithm builds its head first, sizes the part that feeds it
    from ``head.in_dim``, and calls every head the same way.

    The protocol, the same for every such head:

    - ``in_dim`` (int, set at build): the width of each patch's prediction the head takes; the
      algorithm builds the decoder to output it (p*p*C pixels for MAE's pixel head, the encoder's
      width for a head with its own fc).
    - ``loss(pred, images, patch_mask)`` -> dict of losses, where ``pred`` is (B, L_removed,
      in_dim), the predictions of the removed patches in ``patch_mask.ids_removed`` order (an
      algorithm whose decoder predicts every patch passes ``patch_mask.removed(pred)``),
      ``images`` the (B, C, H, W) normalised inputs and ``patch_mask`` the batch's
      :class:`PatchMask`.
    - ``patch_losses(pred, images, patch_mask)`` -> (B, L_removed), the loss of each removed
      patch (its mean per image is the held-out figure of ``predict``).
    - ``to_pixels(pred, images)`` -> (B, L, p*p*C): predictions of every patch, (B, L, in_dim) in
      patch order, as patches in the images' normalised space (for pictures).
    """
    in_dim: int

    def patch_losses(self, pred: torch.Tensor, images: torch.Tensor,
                     patch_mask: PatchMask) -> torch.Tensor:
        raise NotImplementedError

    def loss(self, pred: torch.Tensor, images: torch.Tensor,
             patch_mask: PatchMask) -> Dict[str, torch.Tensor]:
        raise NotImplementedError

    def to_pixels(self, pred: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError
