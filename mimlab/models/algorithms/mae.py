"""MAE: Masked Autoencoders Are Scalable Vision Learners (He et al. 2021)."""
from dataclasses import dataclass
from typing import Dict, List, Optional, Union

import torch

from mimlab.registry import MODELS
from ..utils import PatchMask, unpatchify
from .base import BaseAlgorithm, sample_seeds
from .fusion import FusionNeckMixin


@dataclass
class Reconstruction:
    """Pictures of one reconstruction, all (B, C, H, W) in the input's (normalised) space.

    Attributes:
        original: the input.
        masked: the input with removed patches zeroed.
        reconstruction: the decoder's prediction for every patch, mapped back to pixels.
        pasted: the reconstruction with the visible patches replaced by the input's.
        mask: (B, L) True where removed.
        loss: (B,) the per-image loss over removed patches.
    """
    original: torch.Tensor
    masked: torch.Tensor
    reconstruction: torch.Tensor
    pasted: torch.Tensor
    mask: torch.Tensor
    loss: torch.Tensor


@MODELS.register_module()
class MAE(FusionNeckMixin, BaseAlgorithm):
    """MAE: mask -> encode the visible patches -> decode with mask tokens -> loss on the removed
    patches.

    MFF is this algorithm with a ``fusion_neck`` (:class:`MultiLevelFusionNeck`): the decoder then
    sees the fused tokens of several encoder blocks, after the encoder's final norm; the fusion
    weights are logged (``fusion_w_b{block}``).

    The target is the head's (a :class:`MaskedPredictionHead`): pixels
    (:class:`PixelReconstructionHead`: normalised, low-pass or PCA) or a frozen tokenizer's ids
    (:class:`DVAETokenHead`, cross-entropy, ``loss_target``). The head is built first; the
    decoder outputs the head's ``in_dim`` per patch (p*p*C pixels, or the encoder's width for the
    token head's own fc).

    Args:
        backbone: a :class:`MaskedViT`.
        neck: the decoder, a :class:`MAEPretrainDecoder`.
        head: a :class:`MaskedPredictionHead`.
        fusion_neck: MFF's :class:`MultiLevelFusionNeck`, or None (MAE).
        data_preprocessor, init_cfg, compile: as :class:`BaseAlgorithm`.
    """

    def __init__(self, backbone: dict, neck: dict, head: dict, fusion_neck: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None, init_cfg=None,
                 compile: Union[bool, dict] = False) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg, compile=compile)
        spec = self.build_encoder(backbone)
        self.fusion_neck = (None if fusion_neck is None else
                            MODELS.build(fusion_neck, default_args=dict(encoder_spec=spec)))
        self.head = MODELS.build(head, default_args=dict(encoder_spec=spec))
        self.neck = MODELS.build(neck, default_args=dict(encoder_spec=spec,
                                                         out_dim=self.head.in_dim))
        self.encoder_spec = spec

    def encode(self, inputs: torch.Tensor, generator: Optional[torch.Generator] = None,
               patch_mask: Optional[PatchMask] = None):
        """Masked encoding: (MaskedEncoding, the (B, 1 + L_keep, D) tokens the decoder sees).
        ``patch_mask``: use this mask instead of drawing one."""
        latent = self.backbone.forward_masked(inputs, patch_mask, self.hidden_layers, generator)
        return latent, self.output_tokens(latent)

    def loss(self, inputs: torch.Tensor, data_samples: Optional[list] = None,
             patch_mask: Optional[PatchMask] = None) -> Dict[str, torch.Tensor]:
        """The loss dict; ``patch_mask``: use this mask instead of drawing one (e.g. to compare
        with a reference implementation on the same mask)."""
        latent, tokens = self.encode(inputs, patch_mask=patch_mask)
        pred = self.neck(tokens, latent.patch_mask)
        losses = self.head.loss(latent.patch_mask.removed(pred), inputs, latent.patch_mask)
        return dict(losses, **self.fusion_weight_logs())

    @torch.no_grad()
    def reconstruct(self, inputs: torch.Tensor, generator: Optional[torch.Generator] = None,
                    patch_mask: Optional[PatchMask] = None) -> Reconstruction:
        """Reconstruct a batch for pictures and held-out evaluation (no gradient), masked from
        ``generator`` or with ``patch_mask``."""
        latent, tokens = self.encode(inputs, generator, patch_mask)
        patch_mask = latent.patch_mask
        pred = self.neck(tokens, patch_mask)
        loss = self.head.patch_losses(patch_mask.removed(pred), inputs, patch_mask).mean(1)

        spec = self.encoder_spec

        def to_image(patches: torch.Tensor) -> torch.Tensor:
            return unpatchify(patches, spec.tokens.patch_size, spec.tokens.grid_size, spec.in_chans)

        pixel_mask = to_image(patch_mask.mask.unsqueeze(-1).expand(-1, -1, spec.patch_dim).to(
            inputs.dtype))
        recon = to_image(self.head.to_pixels(pred, inputs))
        return Reconstruction(original=inputs, masked=inputs * (1 - pixel_mask),
                              reconstruction=recon,
                              pasted=inputs * (1 - pixel_mask) + recon * pixel_mask,
                              mask=patch_mask.mask, loss=loss)

    def predict(self, inputs: torch.Tensor, data_samples: Optional[list] = None) -> List[dict]:
        """Per-image reconstruction loss on the removed patches (for ``tools/test.py``), each
        image masked from its own seed (:func:`~.base.sample_seeds`)."""
        rec = self.reconstruct(inputs, patch_mask=self.backbone.seeded_mask(
            inputs, sample_seeds(data_samples, len(inputs))))
        return [dict(loss_rec=float(v)) for v in rec.loss]
