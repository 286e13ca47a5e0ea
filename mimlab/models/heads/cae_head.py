"""CAE's target heads: dVAE token ids (cross-entropy, the paper) or pixels (MSE).

Both take the decoder's features of the masked patches, (B, L_mask, D), in the order of
``ids_masked`` (B, L_mask): ``patch_losses`` gives the (B, L_mask) loss of each patch, ``loss``
its mean as ``dict(loss_target=...)``. MAE takes them too (``takes_masked_features``): its decoder
then outputs features of the encoder's width (``prediction_dim``) for the head's own fc.
"""
import os.path as osp
from typing import Dict, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule

from mimlab.registry import MODELS
from ..utils import EncoderSpec, patchify
from .pixel_head import PixelReconstructionHead


def gather_patches(x: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """(B, L, ...) per-patch values, (B, N) indices -> (B, N, ...)."""
    index = ids.view(*ids.shape, *([1] * (x.dim() - 2))).expand(-1, -1, *x.shape[2:])
    return torch.gather(x, 1, index)


@MODELS.register_module()
class DVAETokenHead(BaseModule):
    """Predict the tokenizer's id of each masked patch; cross-entropy against the frozen
    tokenizer's ids of the input (CAE/BEiT).

    The tokenizer sees the same crop as the encoder, resized to ``view_size`` (CAE: 112 px beside
    the encoder's 224 px, so that a DALL-E token covers one 16-px patch), in [0, 1] pixels.

    Args:
        encoder_spec: the encoder's :class:`EncoderSpec` (filled in by the algorithm).
        tokenizer: config of a registered tokenizer (``DiscreteVAE``, ``DALLEEncoder``), with its
            weights as ``init_cfg``; it is frozen and always in eval mode.
        view_size: the tokenizer's input size; None: the encoder's input as it is.
        pixel_mean, pixel_std: (C,) the data preprocessor's normalisation (filled in by the
            algorithm), to map inputs back to [0, 1] pixels.
    """
    uses_pixel_normalization = True
    takes_masked_features = True

    @classmethod
    def prediction_dim(cls, encoder_spec: EncoderSpec) -> int:
        """The width of the features this head takes (its fc's input): the encoder's."""
        return encoder_spec.embed_dim

    def __init__(self, encoder_spec: EncoderSpec, tokenizer: dict,
                 view_size: Optional[int] = None, pixel_mean: Optional[torch.Tensor] = None,
                 pixel_std: Optional[torch.Tensor] = None, init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.tokenizer = MODELS.build(tokenizer)
        self.tokenizer.requires_grad_(False)
        self.grid_size = encoder_spec.grid_size
        self.patch_size = encoder_spec.patch_size
        self.view_size = view_size
        self.fc = nn.Linear(encoder_spec.embed_dim, self.tokenizer.vocab_size)
        nn.init.trunc_normal_(self.fc.weight, std=0.02)
        nn.init.zeros_(self.fc.bias)
        channels = encoder_spec.in_chans
        mean = torch.zeros(channels) if pixel_mean is None else torch.as_tensor(pixel_mean)
        std = torch.ones(channels) if pixel_std is None else torch.as_tensor(pixel_std)
        self.register_buffer('pixel_mean', mean.float().view(1, -1, 1, 1), persistent=False)
        self.register_buffer('pixel_std', std.float().view(1, -1, 1, 1), persistent=False)

    def init_weights(self) -> None:
        init = self.tokenizer.init_cfg
        path = init.get('checkpoint') if isinstance(init, dict) else None
        if isinstance(path, str) and '://' not in path and not osp.isfile(path):
            raise FileNotFoundError(
                f'model.head.tokenizer.init_cfg.checkpoint={path!r} does not exist: train the '
                'tokenizer first (the demo dVAE: docs/cae.md) or point the key at its checkpoint')
        super().init_weights()

    def train(self, mode: bool = True) -> 'DVAETokenHead':
        super().train(mode)
        self.tokenizer.eval()
        return self

    def tokenizer_view(self, images: torch.Tensor) -> torch.Tensor:
        """Normalised (B, C, H, W) inputs -> the tokenizer's input in [0, 1]."""
        pixels = (images.float() * self.pixel_std + self.pixel_mean) / 255.0
        if self.view_size is not None and pixels.shape[-1] != self.view_size:
            pixels = F.interpolate(pixels, size=(self.view_size, self.view_size), mode='bicubic',
                                   align_corners=False, antialias=True)
        return pixels.clamp(0.0, 1.0)

    @torch.no_grad()
    def target(self, images: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) inputs -> (B, L) token ids, one per encoder patch in patch order."""
        ids = self.tokenizer.encode(self.tokenizer_view(images))
        if tuple(ids.shape[1:]) != tuple(self.grid_size):
            raise ValueError(
                f'the tokenizer gives a {tuple(ids.shape[1:])} grid of tokens but the encoder has '
                f'{tuple(self.grid_size)} patches: set head.view_size so that view_size / the '
                "tokenizer's downsampling equals the patch grid")
        return ids.flatten(1)

    def predict(self, features: torch.Tensor) -> torch.Tensor:
        """(B, N, D) -> (B, N, vocab) logits."""
        return self.fc(features)

    @torch.no_grad()
    def to_pixels(self, features: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
        """(B, L, D) features of every patch -> (B, L, p*p*C) patches in the images' normalised
        space: each patch's most likely token, decoded by the tokenizer (for pictures)."""
        if not hasattr(self.tokenizer, 'decode'):
            raise TypeError(f'{type(self.tokenizer).__name__} has no decode(): pictures of a '
                            'token-target reconstruction need a tokenizer that decodes ids '
                            '(DiscreteVAE), or a pixel head')
        ids = self.predict(features).argmax(dim=-1).view(-1, *self.grid_size)
        pixels = self.tokenizer.decode(ids).float()
        if pixels.shape[-2:] != images.shape[-2:]:
            pixels = F.interpolate(pixels, size=images.shape[-2:], mode='bicubic',
                                   align_corners=False).clamp(0.0, 1.0)
        normalised = (pixels * 255.0 - self.pixel_mean) / self.pixel_std
        return patchify(normalised.to(images.dtype), self.patch_size)

    def patch_losses(self, features: torch.Tensor, images: torch.Tensor,
                     ids_masked: torch.Tensor) -> torch.Tensor:
        """(B, L_mask) cross-entropy of each masked patch's logits against its token id."""
        target = gather_patches(self.target(images), ids_masked)
        logits = self.predict(features).float()
        return F.cross_entropy(logits.transpose(1, 2), target, reduction='none')

    def loss(self, features: torch.Tensor, images: torch.Tensor,
             ids_masked: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Mean cross-entropy over the masked patches, ``dict(loss_target=...)``."""
        return dict(loss_target=self.patch_losses(features, images, ids_masked).mean())


@MODELS.register_module()
class CAEPixelHead(PixelReconstructionHead):
    """Pixel target for CAE: a linear layer to the p*p*C values of each masked patch, mean
    squared error against the (optionally per-patch normalised) patch, as MAE's head.

    Args: as :class:`PixelReconstructionHead` (``norm_pix``, ``eps``, ``low_pass_radius``).
    """
    takes_masked_features = True

    @classmethod
    def prediction_dim(cls, encoder_spec: EncoderSpec) -> int:
        """The width of the features this head takes (its fc's input): the encoder's."""
        return encoder_spec.embed_dim

    def __init__(self, encoder_spec: EncoderSpec, **kwargs) -> None:
        super().__init__(encoder_spec, **kwargs)
        self.fc = nn.Linear(encoder_spec.embed_dim, encoder_spec.patch_dim)
        nn.init.xavier_uniform_(self.fc.weight)
        nn.init.zeros_(self.fc.bias)

    def predict(self, features: torch.Tensor) -> torch.Tensor:
        """(B, N, D) -> (B, N, p*p*C) predicted patches (in fp32 under mixed precision)."""
        with torch.autocast(features.device.type, enabled=False):
            return self.fc(features.float())

    def patch_losses(self, features: torch.Tensor, images: torch.Tensor,
                     ids_masked: torch.Tensor) -> torch.Tensor:
        """(B, L_mask) mean squared error of each masked patch."""
        with torch.autocast(features.device.type, enabled=False):
            target = gather_patches(self.target(images.float()), ids_masked)
            return (self.predict(features) - target).pow(2).mean(dim=-1)

    def loss(self, features: torch.Tensor, images: torch.Tensor,
             ids_masked: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Mean over the masked patches of the per-patch MSE, ``dict(loss_target=...)``."""
        return dict(loss_target=self.patch_losses(features, images, ids_masked).mean())
