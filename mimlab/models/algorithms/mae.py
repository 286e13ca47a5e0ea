"""MAE: Masked Autoencoders Are Scalable Vision Learners (He et al. 2021)."""
from dataclasses import dataclass
from typing import Dict, List, Optional

import torch

from mimlab.registry import MODELS
from ..heads.cae_head import gather_patches
from ..utils import unpatchify
from .base import BaseAlgorithm


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
class MAE(BaseAlgorithm):
    """MAE: mask -> encode the visible patches -> decode with mask tokens -> loss on the removed
    patches. ``backbone`` is a :class:`MaskedViT`, ``neck`` a :class:`MAEPretrainDecoder`,
    ``head`` a :class:`PixelReconstructionHead`.

    MFF is this algorithm with a ``fusion_neck`` (:class:`MultiLevelFusionNeck`): the decoder then
    sees the fused tokens of several encoder blocks, after the encoder's final norm; the fusion
    weights are logged (``fusion_w_b{block}``).

    The target is the head's: pixels (:class:`PixelReconstructionHead`: normalised, low-pass or
    PCA) or, with a head that ``takes_masked_features`` (:class:`DVAETokenHead`), a frozen
    tokenizer's ids, cross-entropy over the removed patches (``loss_target``). The decoder's output
    width comes from the head (``prediction_dim``): p*p*C pixels, or the encoder's width for the
    token head's fc to the vocabulary."""

    def neck_args(self, head: Optional[dict]) -> dict:
        head_cls = None if head is None else self.head_class(head)
        if head_cls is None or not hasattr(head_cls, 'prediction_dim'):
            return {}
        return dict(out_dim=head_cls.prediction_dim(self.backbone.spec))

    def _masked_patch_losses(self, pred: torch.Tensor, inputs: torch.Tensor,
                             latent) -> torch.Tensor:
        """(B, L_removed) loss of each removed patch, from a head on masked features."""
        ids = latent.patch_mask.ids_removed
        return self.head.patch_losses(gather_patches(pred, ids), inputs, ids)

    def encode(self, inputs: torch.Tensor, generator: Optional[torch.Generator] = None):
        """Masked encoding: (EncoderOutput, the (B, 1 + L_keep, D) tokens the decoder sees)."""
        latent = self.backbone(inputs, mask=True, generator=generator,
                               hidden_layers=self.hidden_layers)
        return latent, self.output_tokens(latent)

    def loss(self, inputs: torch.Tensor,
             data_samples: Optional[list] = None) -> Dict[str, torch.Tensor]:
        latent, tokens = self.encode(inputs)
        pred = self.neck(tokens, latent.ids_restore)
        if getattr(self.head, 'takes_masked_features', False):
            ids = latent.patch_mask.ids_removed
            losses = self.head.loss(gather_patches(pred, ids), inputs, ids)
        else:
            losses = self.head.loss(pred, inputs, latent.mask)
        return dict(losses, **self.fusion_weight_logs())

    @torch.no_grad()
    def reconstruct(self, inputs: torch.Tensor,
                    generator: Optional[torch.Generator] = None) -> Reconstruction:
        """Reconstruct a batch for pictures and held-out evaluation (no gradient)."""
        latent, tokens = self.encode(inputs, generator)
        pred = self.neck(tokens, latent.ids_restore)
        if getattr(self.head, 'takes_masked_features', False):
            loss = self._masked_patch_losses(pred, inputs, latent).mean(1)
        else:
            mask_f = latent.mask.float()
            loss = (self.head.patch_errors(pred, inputs) * mask_f).sum(1) / mask_f.sum(1)

        spec = self.backbone.spec
        grid = (inputs.shape[2] // spec.patch_size, inputs.shape[3] // spec.patch_size)

        def to_image(patches: torch.Tensor) -> torch.Tensor:
            return unpatchify(patches, spec.patch_size, grid, spec.in_chans)

        pixel_mask = to_image(latent.mask.unsqueeze(-1).expand(-1, -1, spec.patch_dim).to(
            inputs.dtype))
        recon = to_image(self.head.to_pixels(pred, inputs))
        return Reconstruction(original=inputs, masked=inputs * (1 - pixel_mask),
                              reconstruction=recon,
                              pasted=inputs * (1 - pixel_mask) + recon * pixel_mask,
                              mask=latent.mask, loss=loss)

    def predict(self, inputs: torch.Tensor, data_samples: Optional[list] = None) -> List[dict]:
        """Per-image reconstruction loss on the removed patches (for ``tools/test.py``)."""
        rec = self.reconstruct(inputs)
        return [dict(loss_rec=float(v)) for v in rec.loss]
