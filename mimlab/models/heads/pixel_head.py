"""Pixel targets and MAE's pixel reconstruction head.

:class:`PixelTarget` is the target the pixel heads compose (MAE's
:class:`PixelReconstructionHead` here, CAE's :class:`CAEPixelHead`): the image's patches, each
normalised by its own mean and variance (MAE's ``norm_pix``), optionally of the low-pass
filtered image (PixMIM), and the way back from such patches to the image's space.
"""
from typing import Dict, Optional, Tuple

import torch

from mimlab.registry import MODELS
from ..utils import EncoderSpec, MaskedPredictionHead, PatchMask, load_pca, low_pass, patchify


def masked_mean(errors: torch.Tensor, patch_mask: PatchMask) -> torch.Tensor:
    """The mean of (B, L_removed) per-patch errors over the removed patches. The errors are put
    back in patch order (zeros at the kept patches) and summed over all L, as MAE's reference
    sums ``loss * mask``, so that the value matches it bit for bit."""
    kept = errors.new_zeros(errors.shape[0], patch_mask.num_keep)
    return patch_mask.restore(kept, errors).sum() / patch_mask.mask.sum()


class PixelTarget:
    """The pixel target of a head: (B, L, p*p*C) patches of the input, in the input's
    (normalised) space.

    Args:
        encoder_spec: the encoder's :class:`EncoderSpec`, with the inputs' pixel normalisation.
        norm_pix: normalise each target patch by its own mean and variance (MAE's better
            target); predictions are then in that normalised space.
        eps: added to the variance (MAE: 1e-6).
        low_pass_radius: PixMIM's low-frequency target: the image low-pass filtered to this
            radius (cycles per image; PixMIM: 40 at 224 px) before patchifying, computed as
            PixMIM's reference does on pixel values (the spec's normalisation undone): the
            magnitude of the filtered image. None: the image.
    """

    def __init__(self, encoder_spec: EncoderSpec, norm_pix: bool = True, eps: float = 1e-6,
                 low_pass_radius: Optional[float] = None) -> None:
        if low_pass_radius is not None and low_pass_radius <= 0:
            raise ValueError(f'head low_pass_radius must be > 0, got {low_pass_radius}')
        self.encoder_spec = encoder_spec
        self.patch_size = encoder_spec.tokens.patch_size
        self.norm_pix = norm_pix
        self.eps = eps
        self.low_pass_radius = low_pass_radius

    def low_frequency(self, images: torch.Tensor) -> torch.Tensor:
        """The low-pass filtered images, in the same normalised space as ``images``. The
        reference's target is the modulus of the filtered image, which is not linear: the filter
        runs on pixel values (the spec's normalisation undone, then applied again)."""
        pixels = low_pass(self.encoder_spec.pixels.to_pixels(images), self.low_pass_radius)
        return self.encoder_spec.pixels.normalise(pixels).to(images.dtype)

    def source(self, images: torch.Tensor) -> torch.Tensor:
        """The images the target is cut from: the input, or its low-pass version."""
        return images if self.low_pass_radius is None else self.low_frequency(images)

    def _patch_stats(self, patches: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        mean = patches.mean(dim=-1, keepdim=True)
        var = patches.var(dim=-1, keepdim=True)
        return mean, (var + self.eps).sqrt()

    def patches(self, images: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> (B, L, p*p*C) the target patches (normalised if ``norm_pix``)."""
        patches = patchify(self.source(images), self.patch_size)
        if self.norm_pix:
            mean, std = self._patch_stats(patches)
            patches = (patches - mean) / std
        return patches

    def to_pixels(self, pred: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
        """Predicted target patches of every patch (B, L, p*p*C) -> patches in the images'
        space: with ``norm_pix`` each patch gets back the mean and std of the true patch at its
        position, so pictures of the reconstruction look like images."""
        if not self.norm_pix:
            return pred
        mean, std = self._patch_stats(patchify(self.source(images), self.patch_size))
        return pred * std + mean


@MODELS.register_module()
class PixelReconstructionHead(MaskedPredictionHead):
    """Mean squared error between predicted and true patches (a :class:`PixelTarget`), over the
    removed patches only (the protocol of :class:`MaskedPredictionHead`; ``in_dim`` = p*p*C:
    MAE's decoder predicts the patches itself).

    Args:
        encoder_spec: the encoder's :class:`EncoderSpec` (filled in by the algorithm), with the
            inputs' pixel normalisation.
        norm_pix, eps, low_pass_radius: the :class:`PixelTarget`'s.
        pca_file: MAE's PCA target: a file of ``tools/analysis_tools/fit_patch_pca.py`` (the top
            k principal components of this head's own target patches, fitted once on the data).
            The target is then each patch's k coefficients, and the decoder's prediction is
            mapped onto them by the same projection (a fixed linear layer after the decoder's
            own), so the decoder keeps its p*p*C outputs. The basis is kept in the checkpoint.
    """

    def __init__(self, encoder_spec: EncoderSpec, norm_pix: bool = True, eps: float = 1e-6,
                 low_pass_radius: Optional[float] = None, pca_file: Optional[str] = None,
                 init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.pixel_target = PixelTarget(encoder_spec, norm_pix, eps, low_pass_radius)
        self.in_dim = encoder_spec.patch_dim
        self.pca_file = pca_file
        if pca_file is not None:
            pca_mean, components = load_pca(pca_file, encoder_spec.patch_dim)
            self.register_buffer('pca_mean', pca_mean)
            self.register_buffer('pca_components', components)

    def pca_coefficients(self, patches: torch.Tensor) -> torch.Tensor:
        """(..., p*p*C) -> (..., k) coordinates in the PCA basis."""
        return (patches - self.pca_mean) @ self.pca_components.T

    def target(self, images: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> the regression target: (B, L, p*p*C) patches, or (B, L, k) their
        PCA coefficients with ``pca_file``."""
        patches = self.pixel_target.patches(images)
        return patches if self.pca_file is None else self.pca_coefficients(patches)

    def patch_losses(self, pred: torch.Tensor, images: torch.Tensor,
                     patch_mask: PatchMask) -> torch.Tensor:
        """(B, L_removed) mean squared error of each removed patch (over its k PCA coefficients
        with ``pca_file``), in fp32 even under mixed precision."""
        with torch.autocast(pred.device.type, enabled=False):
            pred = pred.float()
            if self.pca_file is not None:
                pred = self.pca_coefficients(pred)
            return (pred - patch_mask.removed(self.target(images.float()))).pow(2).mean(dim=-1)

    def loss(self, pred: torch.Tensor, images: torch.Tensor,
             patch_mask: PatchMask) -> Dict[str, torch.Tensor]:
        """``{'loss_rec': the mean over removed patches of the per-patch MSE}``
        (:func:`masked_mean`)."""
        return dict(loss_rec=masked_mean(self.patch_losses(pred, images, patch_mask), patch_mask))

    def to_pixels(self, pred: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
        """Map predictions of every patch (B, L, p*p*C) back to the images' space
        (:meth:`PixelTarget.to_pixels`); with ``pca_file`` the prediction is first projected
        onto the PCA basis (what the loss sees of it)."""
        if self.pca_file is not None:
            pred = self.pca_coefficients(pred) @ self.pca_components + self.pca_mean
        return self.pixel_target.to_pixels(pred, images)
