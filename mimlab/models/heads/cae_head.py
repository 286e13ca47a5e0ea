"""CAE's target heads: dVAE token ids (cross-entropy, the paper) or pixels (MSE).

Both follow :class:`MaskedPredictionHead`'s protocol with ``in_dim`` = the encoder's width: they
take features of the removed patches (B, L_removed, D) in ``patch_mask.ids_removed`` order and map
them with their own fc. MAE can use them too: its decoder then outputs features of that width.
"""
import os.path as osp
from typing import Dict, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from mimlab.registry import MODELS
from ..utils import EncoderSpec, MaskedPredictionHead, PatchMask, patchify
from .pixel_head import PixelTarget, masked_mean


@MODELS.register_module()
class DVAETokenHead(MaskedPredictionHead):
    """Predict the tokenizer's id of each masked patch; cross-entropy against the frozen
    tokenizer's ids of the input (CAE/BEiT).

    The tokenizer sees the same crop as the encoder, resized to ``view_size`` (CAE: 112 px beside
    the encoder's 224 px, so that a DALL-E token covers one 16-px patch), in [0, 1] pixels.

    Args:
        encoder_spec: the encoder's :class:`EncoderSpec` (filled in by the algorithm), with the
            inputs' pixel normalisation (to give the tokenizer [0, 1] pixels).
        tokenizer: config of a registered tokenizer (``DiscreteVAE``, ``DALLEEncoder``), with its
            weights as ``init_cfg``; it is frozen and always in eval mode.
        view_size: the tokenizer's input size; None: the encoder's input as it is.
    """

    def __init__(self, encoder_spec: EncoderSpec, tokenizer: dict,
                 view_size: Optional[int] = None, init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.tokenizer = MODELS.build(tokenizer)
        self.tokenizer.requires_grad_(False)
        self.encoder_spec = encoder_spec
        self.in_dim = encoder_spec.tokens.embed_dim
        self.grid_size = encoder_spec.tokens.grid_size
        self.patch_size = encoder_spec.tokens.patch_size
        self.view_size = view_size
        self.fc = nn.Linear(encoder_spec.tokens.embed_dim, self.tokenizer.vocab_size)
        nn.init.trunc_normal_(self.fc.weight, std=0.02)
        nn.init.zeros_(self.fc.bias)

    def init_weights(self) -> None:
        init = self.tokenizer.init_cfg
        path = init.get('checkpoint') if isinstance(init, dict) else None
        if isinstance(path, str) and '://' not in path and not osp.isfile(path):
            raise FileNotFoundError(
                f'model.head.tokenizer.init_cfg.checkpoint={path!r} does not exist. '
                f'{self.tokenizer.missing_weights_hint(path)}')
        super().init_weights()

    def train(self, mode: bool = True) -> 'DVAETokenHead':
        super().train(mode)
        self.tokenizer.eval()
        return self

    def tokenizer_view(self, images: torch.Tensor) -> torch.Tensor:
        """Normalised (B, C, H, W) inputs -> the tokenizer's input in [0, 1]."""
        pixels = self.encoder_spec.pixels.to_pixels(images) / 255.0
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

    def predict(self, pred: torch.Tensor) -> torch.Tensor:
        """(B, N, D) features -> (B, N, vocab) logits."""
        return self.fc(pred)

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
        normalised = self.encoder_spec.pixels.normalise(pixels * 255.0)
        return patchify(normalised.to(images.dtype), self.patch_size)

    def patch_losses(self, pred: torch.Tensor, images: torch.Tensor,
                     patch_mask: PatchMask) -> torch.Tensor:
        """(B, L_removed) cross-entropy of each removed patch's logits against its token id."""
        target = patch_mask.removed(self.target(images))
        logits = self.predict(pred).float()
        return F.cross_entropy(logits.transpose(1, 2), target, reduction='none')

    def loss(self, pred: torch.Tensor, images: torch.Tensor,
             patch_mask: PatchMask) -> Dict[str, torch.Tensor]:
        """Mean cross-entropy over the removed patches, ``dict(loss_target=...)``."""
        return dict(loss_target=self.patch_losses(pred, images, patch_mask).mean())


@MODELS.register_module()
class CAEPixelHead(MaskedPredictionHead):
    """Pixel target for CAE: a linear layer to the p*p*C values of each masked patch, mean
    squared error against its :class:`PixelTarget` (the optionally per-patch normalised patch,
    as MAE's head), ``loss_target``.

    Args:
        encoder_spec: the encoder's :class:`EncoderSpec` (filled in by the algorithm).
        norm_pix, eps, low_pass_radius: the :class:`PixelTarget`'s.
    """

    def __init__(self, encoder_spec: EncoderSpec, norm_pix: bool = True, eps: float = 1e-6,
                 low_pass_radius: Optional[float] = None, init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.pixel_target = PixelTarget(encoder_spec, norm_pix, eps, low_pass_radius)
        self.in_dim = encoder_spec.tokens.embed_dim
        self.fc = nn.Linear(encoder_spec.tokens.embed_dim, encoder_spec.patch_dim)
        nn.init.xavier_uniform_(self.fc.weight)
        nn.init.zeros_(self.fc.bias)

    def predict(self, pred: torch.Tensor) -> torch.Tensor:
        """(B, N, D) features -> (B, N, p*p*C) predicted patches (in fp32 under mixed
        precision)."""
        with torch.autocast(pred.device.type, enabled=False):
            return self.fc(pred.float())

    def patch_losses(self, pred: torch.Tensor, images: torch.Tensor,
                     patch_mask: PatchMask) -> torch.Tensor:
        """(B, L_removed) mean squared error of each removed patch, in fp32."""
        with torch.autocast(pred.device.type, enabled=False):
            target = patch_mask.removed(self.pixel_target.patches(images.float()))
            return (self.predict(pred.float()) - target).pow(2).mean(dim=-1)

    def loss(self, pred: torch.Tensor, images: torch.Tensor,
             patch_mask: PatchMask) -> Dict[str, torch.Tensor]:
        """``{'loss_target': the mean over removed patches of the per-patch MSE}``."""
        return dict(loss_target=masked_mean(self.patch_losses(pred, images, patch_mask),
                                            patch_mask))

    def to_pixels(self, pred: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
        """(B, L, D) features of every patch -> (B, L, p*p*C) patches in the images' space."""
        return self.pixel_target.to_pixels(self.predict(pred), images)
