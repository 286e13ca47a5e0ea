"""MAE: Masked Autoencoders Are Scalable Vision Learners (He et al. 2021)."""
from dataclasses import dataclass, replace
from typing import Dict, List, Optional, Union

import torch

from mimlab.registry import MODELS
from ..utils import EncoderSpec, MaskedEncoding, PatchMask, unpatchify
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
class MAE(BaseAlgorithm):
    """MAE: mask -> encode the visible patches -> decode with mask tokens -> loss on the removed
    patches.

    The target is the head's (a :class:`MaskedPredictionHead`): pixels
    (:class:`PixelReconstructionHead`: normalised, low-pass or PCA) or a frozen tokenizer's ids
    (:class:`DVAETokenHead`, cross-entropy, ``loss_target``). The head is built first; the
    decoder outputs the head's ``in_dim`` per patch (p*p*C pixels, or the encoder's width for the
    token head's own fc).

    Args:
        backbone: a :class:`MaskedViT`.
        neck: the decoder, a :class:`MAEPretrainDecoder`.
        head: a :class:`MaskedPredictionHead`.
        data_preprocessor, init_cfg, compile: as :class:`BaseAlgorithm`.
    """

    def __init__(self, backbone: dict, neck: dict, head: dict,
                 data_preprocessor: Optional[dict] = None, init_cfg=None,
                 compile: Union[bool, dict] = False) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg, compile=compile)
        spec = self.build_encoder(backbone)
        self.build_decoder(spec, neck, head)

    def build_decoder(self, spec: EncoderSpec, neck: dict, head: dict) -> None:
        """The head, then the decoder that outputs the head's ``in_dim`` per patch."""
        self.head = MODELS.build(head, default_args=dict(encoder_spec=spec))
        self.neck = MODELS.build(neck, default_args=dict(encoder_spec=spec,
                                                         out_dim=self.head.in_dim))
        self.encoder_spec = spec

    def encode(self, inputs: torch.Tensor, generator: Optional[torch.Generator] = None,
               patch_mask: Optional[PatchMask] = None) -> MaskedEncoding:
        """The masked encoding the decoder sees, (B, 1 + L_keep, D) tokens and the mask;
        ``patch_mask``: use this mask instead of drawing one."""
        return self.backbone.forward_masked(inputs, patch_mask, generator=generator)

    def loss(self, inputs: torch.Tensor, data_samples: Optional[list] = None,
             patch_mask: Optional[PatchMask] = None) -> Dict[str, torch.Tensor]:
        """The loss dict; ``patch_mask``: use this mask instead of drawing one (e.g. to compare
        with a reference implementation on the same mask)."""
        latent = self.encode(inputs, patch_mask=patch_mask)
        pred = self.neck(latent.tokens, latent.patch_mask)
        return self.head.loss(latent.patch_mask.removed(pred), inputs, latent.patch_mask)

    @torch.no_grad()
    def reconstruct(self, inputs: torch.Tensor, generator: Optional[torch.Generator] = None,
                    patch_mask: Optional[PatchMask] = None) -> Reconstruction:
        """Reconstruct a batch for pictures and held-out evaluation (no gradient), masked from
        ``generator`` or with ``patch_mask``."""
        latent = self.encode(inputs, generator, patch_mask)
        patch_mask = latent.patch_mask
        pred = self.neck(latent.tokens, patch_mask)
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


@MODELS.register_module()
class MFF(FusionNeckMixin, MAE):
    """MFF (Liu et al., ICCV 2023): MAE whose decoder sees the fusion of several encoder blocks
    (a :class:`MultiLevelFusionNeck`), through the encoder's final norm, instead of the last
    block alone; the fusion weights are logged (``fusion_w_b{block}``).

    Args:
        fusion_neck: the :class:`MultiLevelFusionNeck`.
        backbone, neck, head, data_preprocessor, init_cfg, compile: as :class:`MAE`.
    """

    def __init__(self, backbone: dict, neck: dict, head: dict, fusion_neck: dict,
                 data_preprocessor: Optional[dict] = None, init_cfg=None,
                 compile: Union[bool, dict] = False) -> None:
        # the parts in the figure's order: encoder, fusion neck, head, decoder
        BaseAlgorithm.__init__(self, data_preprocessor=data_preprocessor, init_cfg=init_cfg,
                               compile=compile)
        spec = self.build_encoder(backbone)
        self.fusion_neck = MODELS.build(fusion_neck, default_args=dict(encoder_spec=spec))
        self.build_decoder(spec, neck, head)

    def encode(self, inputs: torch.Tensor, generator: Optional[torch.Generator] = None,
               patch_mask: Optional[PatchMask] = None) -> MaskedEncoding:
        """As :meth:`MAE.encode`, the tokens being the fused blocks' through the final norm."""
        latent = self.backbone.forward_masked(inputs, patch_mask, self.hidden_layers, generator)
        return replace(latent, tokens=self.output_tokens(latent))

    def loss(self, inputs: torch.Tensor, data_samples: Optional[list] = None,
             patch_mask: Optional[PatchMask] = None) -> Dict[str, torch.Tensor]:
        """MAE's loss dict and the fusion weights (logged only)."""
        return dict(super().loss(inputs, data_samples, patch_mask), **self.fusion_weight_logs())
