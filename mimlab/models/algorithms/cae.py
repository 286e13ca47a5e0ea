"""CAE: Context Autoencoder for Self-Supervised Representation Learning (Chen et al. 2022)."""
import copy
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn.functional as F

from mimlab.registry import MODELS
from ..heads.cae_head import CAEPixelHead
from ..utils import MaskedEncoding, PatchMask, unpatchify
from .base import BaseAlgorithm, sample_seeds


@MODELS.register_module()
class CAE(BaseAlgorithm):
    """CAE: block mask -> encode the visible patches -> regress the masked patches' latents ->
    decode them (positions only) -> target loss; plus the alignment of the regressed latents with
    the encoder's own latents of the masked patches.

    ``backbone`` is a :class:`MaskedViT` (block masking), ``neck`` a
    :class:`LatentContextualRegressor`, ``decoder`` a :class:`CAEPretrainDecoder`, ``head`` a
    :class:`DVAETokenHead` (the paper) or :class:`CAEPixelHead`. All take their sizes from the
    backbone.

    Alignment target: the masked patches alone (with their positions) through the encoder, with
    no gradient. With ``momentum`` 0 (the paper) that is the live encoder under ``no_grad``; with
    ``momentum`` > 0 an EMA copy of the encoder, updated before every training step. In training
    the target encoder runs in train mode, with stochastic depth, as official CAE's
    ``alignment_encoder`` (a submodule of the model in train mode); ``align_target_mode='eval'``
    runs it without.

    Loss dict: ``loss_target`` (cross-entropy or MSE), ``loss_align`` (``align_weight`` x MSE),
    both summed by mmengine; ``align_mse`` (the unweighted MSE) is only logged.

    Args:
        decoder: config of the decoder.
        align_weight: lambda (CAE: 2); 0 turns the alignment off (the MSE is still logged).
        momentum: EMA momentum of the alignment teacher; 0 uses the live encoder.
        align_target_mode: 'train' (official CAE: the target encoder in the model's mode, so
            with stochastic depth in training) or 'eval' (always without).
    """

    def __init__(self, backbone: dict, neck: dict, decoder: dict, head: dict,
                 align_weight: float = 2.0, momentum: float = 0.0,
                 align_target_mode: str = 'train', data_preprocessor: Optional[dict] = None,
                 init_cfg=None) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f'CAE momentum must lie in [0, 1), got {momentum}')
        if align_weight < 0:
            raise ValueError(f'CAE align_weight must be >= 0, got {align_weight}')
        if align_target_mode not in ('train', 'eval'):
            raise ValueError("CAE align_target_mode must be 'train' or 'eval', got "
                             f'{align_target_mode!r}')
        spec = self.build_encoder(backbone)
        self.neck = MODELS.build(neck, default_args=dict(encoder_spec=spec))
        self.head = MODELS.build(head, default_args=dict(encoder_spec=spec))
        self.decoder = MODELS.build(decoder, default_args=dict(encoder_spec=spec))
        self.encoder_spec = spec
        self.align_weight = align_weight
        self.momentum = momentum
        self.align_target_mode = align_target_mode
        self.teacher = None
        if momentum > 0:
            self.teacher = copy.deepcopy(self.backbone).requires_grad_(False)

    def init_weights(self) -> None:
        super().init_weights()
        if self.teacher is not None:
            self.teacher.load_state_dict(self.backbone.state_dict())

    @torch.no_grad()
    def momentum_update(self) -> None:
        """teacher = momentum * teacher + (1 - momentum) * encoder."""
        teacher = list(self.teacher.state_dict().values())
        student = list(self.backbone.state_dict().values())
        floats = [(t, s) for t, s in zip(teacher, student) if t.is_floating_point()]
        torch._foreach_lerp_([t for t, _ in floats], [s for _, s in floats], 1 - self.momentum)

    def positions(self, inputs: torch.Tensor) -> torch.Tensor:
        """(1, P + L, D): the encoder's position embedding for the inputs' grid; the regressor
        and the decoder use it too (as official CAE and mmpretrain do)."""
        p = self.encoder_spec.tokens.patch_size
        return self.backbone.pos_embed_for((inputs.shape[2] // p, inputs.shape[3] // p))

    def encode(self, inputs: torch.Tensor, generator: Optional[torch.Generator] = None,
               patch_mask: Optional[PatchMask] = None) -> Tuple[MaskedEncoding, torch.Tensor]:
        """Masked encoding and regression: (MaskedEncoding, the regressed latents of the removed
        patches (B, L_removed, D) in ``ids_removed`` order). ``patch_mask``: use this mask
        instead of drawing one."""
        latent = self.backbone.forward_masked(inputs, patch_mask, generator=generator)
        return latent, self.neck(latent.tokens, latent.patch_mask, self.positions(inputs))

    @torch.no_grad()
    def alignment_target(self, inputs: torch.Tensor, patch_mask: PatchMask) -> torch.Tensor:
        """(B, L_removed, D): the encoder's latents of the removed patches, fed alone, no
        gradient (in eval mode with ``align_target_mode='eval'``)."""
        encoder = self.teacher if self.teacher is not None else self.backbone
        was_training = encoder.training
        if self.align_target_mode == 'eval':
            encoder.eval()
        try:
            out = encoder.forward_masked(inputs, patch_mask.complement())
        finally:
            encoder.train(was_training)
        return out.tokens[:, self.encoder_spec.tokens.num_prefix_tokens:]

    def loss(self, inputs: torch.Tensor, data_samples: Optional[list] = None,
             patch_mask: Optional[PatchMask] = None) -> Dict[str, torch.Tensor]:
        """The loss dict; ``patch_mask``: use this mask instead of drawing one (e.g. to compare
        with a reference implementation on the same mask)."""
        if self.teacher is not None and self.training:
            self.momentum_update()
        latent, regressed = self.encode(inputs, patch_mask=patch_mask)
        patch_mask = latent.patch_mask
        features = self.decoder(regressed, patch_mask, self.positions(inputs))
        losses = self.head.loss(features, inputs, patch_mask)
        align = F.mse_loss(regressed.float(), self.alignment_target(inputs, patch_mask).float())
        losses.update(loss_align=self.align_weight * align, align_mse=align.detach())
        return losses

    @torch.no_grad()
    def reconstruct_from_encoder(self, inputs: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """The paper's alignment check: every patch through the encoder, its output straight
        into the decoder and the (pixel) head, no regressor. Returns the (B, C, H, W) picture in
        the inputs' normalised space and the (B,) per-image MSE against the head's target."""
        if not isinstance(self.head, CAEPixelHead):
            raise TypeError('the alignment check needs a pixel-target CAE (head=CAEPixelHead), '
                            f'got {type(self.head).__name__}')
        spec = self.encoder_spec
        tokens = self.backbone.encode(inputs).tokens[:, spec.tokens.num_prefix_tokens:]
        every_patch = PatchMask.removing_all(tokens.shape[0], spec.tokens.num_patches,
                                             inputs.device)
        features = self.decoder(tokens, every_patch, self.positions(inputs))
        error = self.head.patch_losses(features, inputs, every_patch).mean(dim=1)
        picture = unpatchify(self.head.to_pixels(features, inputs), spec.tokens.patch_size,
                             spec.tokens.grid_size, spec.in_chans)
        return picture, error

    def predict(self, inputs: torch.Tensor, data_samples: Optional[list] = None) -> List[dict]:
        """Per-image target loss on the masked patches (for ``tools/test.py``), each image
        masked from its own seed (:func:`~.base.sample_seeds`)."""
        patch_mask = self.backbone.seeded_mask(inputs, sample_seeds(data_samples, len(inputs)))
        with torch.no_grad():
            latent, regressed = self.encode(inputs, patch_mask=patch_mask)
            features = self.decoder(regressed, latent.patch_mask, self.positions(inputs))
            losses = self.head.patch_losses(features, inputs, latent.patch_mask)
        return [dict(loss_rec=float(v)) for v in losses.mean(dim=1)]
