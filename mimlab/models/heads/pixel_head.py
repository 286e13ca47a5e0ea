"""Pixel reconstruction target and loss (MAE)."""
from typing import Dict, Optional

import torch
from mmengine.model import BaseModule

from mimlab.registry import MODELS
from ..utils import EncoderSpec, load_pca, low_pass, patchify


@MODELS.register_module()
class PixelReconstructionHead(BaseModule):
    """Mean squared error between predicted and true patches, over the removed patches only.

    Args:
        encoder_spec: the encoder's :class:`EncoderSpec` (filled in by the algorithm).
        norm_pix: normalise each target patch by its own mean and variance (MAE's better
            target); predictions are then in that normalised space.
        eps: added to the variance (MAE: 1e-6).
        low_pass_radius: PixMIM's low-frequency target: the image low-pass filtered to this
            radius (cycles per image; PixMIM: 40 at 224 px) before patchifying. None: the image.
        pixel_mean, pixel_std: (C,) the data preprocessor's normalisation (filled in by the
            algorithm): the filter runs on pixel values, and its ringing is clipped to [0, 255].
        pca_file: MAE's PCA target: a file of ``tools/analysis_tools/fit_patch_pca.py`` (the top
            k principal components of this head's own target patches, fitted once on the data).
            The target is then each patch's k coefficients, and the decoder's prediction is
            mapped onto them by the same projection (a fixed linear layer after the decoder's
            own), so the decoder keeps its p*p*C outputs. The basis is kept in the checkpoint.
    """
    uses_pixel_normalization = True
    # MAE gives its loss all patches' predictions and the mask (the CAE heads take the masked
    # patches' features only)
    takes_masked_features = False

    @classmethod
    def prediction_dim(cls, encoder_spec: EncoderSpec) -> int:
        """The width of each patch's prediction this head takes (MAE's decoder outputs it)."""
        return encoder_spec.patch_dim

    def __init__(self, encoder_spec: EncoderSpec, norm_pix: bool = True, eps: float = 1e-6,
                 low_pass_radius: Optional[float] = None,
                 pixel_mean: Optional[torch.Tensor] = None,
                 pixel_std: Optional[torch.Tensor] = None, pca_file: Optional[str] = None,
                 init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.patch_size = encoder_spec.patch_size
        self.norm_pix = norm_pix
        self.eps = eps
        if low_pass_radius is not None and low_pass_radius <= 0:
            raise ValueError(f'head low_pass_radius must be > 0, got {low_pass_radius}')
        self.low_pass_radius = low_pass_radius
        channels = encoder_spec.in_chans
        mean = torch.zeros(channels) if pixel_mean is None else torch.as_tensor(pixel_mean)
        std = torch.ones(channels) if pixel_std is None else torch.as_tensor(pixel_std)
        self.register_buffer('pixel_mean', mean.float().view(1, -1, 1, 1), persistent=False)
        self.register_buffer('pixel_std', std.float().view(1, -1, 1, 1), persistent=False)
        self.pca_file = pca_file
        if pca_file is not None:
            pca_mean, components = load_pca(pca_file, encoder_spec.patch_dim)
            self.register_buffer('pca_mean', pca_mean)
            self.register_buffer('pca_components', components)

    def low_frequency(self, images: torch.Tensor) -> torch.Tensor:
        """The low-pass filtered images, in the same normalised space as ``images``."""
        pixels = images * self.pixel_std + self.pixel_mean
        pixels = low_pass(pixels, self.low_pass_radius).clamp(0, 255)
        return (pixels - self.pixel_mean) / self.pixel_std

    def _patch_stats(self, patches: torch.Tensor):
        mean = patches.mean(dim=-1, keepdim=True)
        var = patches.var(dim=-1, keepdim=True)
        return mean, (var + self.eps).sqrt()

    def target_images(self, images: torch.Tensor) -> torch.Tensor:
        """The images the target is cut from: the input, or its low-pass version."""
        return images if self.low_pass_radius is None else self.low_frequency(images)

    def patch_target(self, images: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> (B, L, p*p*C) the target patches (normalised if ``norm_pix``)."""
        patches = patchify(self.target_images(images), self.patch_size)
        if self.norm_pix:
            mean, std = self._patch_stats(patches)
            patches = (patches - mean) / std
        return patches

    def pca_coefficients(self, patches: torch.Tensor) -> torch.Tensor:
        """(..., p*p*C) -> (..., k) coordinates in the PCA basis."""
        return (patches - self.pca_mean) @ self.pca_components.T

    def target(self, images: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> the regression target: (B, L, p*p*C) patches, or (B, L, k) their
        PCA coefficients with ``pca_file``."""
        patches = self.patch_target(images)
        return patches if self.pca_file is None else self.pca_coefficients(patches)

    def patch_errors(self, pred: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
        """(B, L) mean squared error of each patch (over its k PCA coefficients with
        ``pca_file``), in fp32 even under mixed precision."""
        with torch.autocast(pred.device.type, enabled=False):
            pred = pred.float()
            if self.pca_file is not None:
                pred = self.pca_coefficients(pred)
            return (pred - self.target(images.float())).pow(2).mean(dim=-1)

    def loss(self, pred: torch.Tensor, images: torch.Tensor,
             mask: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Args:
            pred: (B, L, p*p*C) predictions.
            images: (B, C, H, W) the (normalised) input images.
            mask: (B, L) True where a patch was removed.

        Returns:
            dict(loss_rec=...), the mean over removed patches of the per-patch MSE.
        """
        mask = mask.float()
        return dict(loss_rec=(self.patch_errors(pred, images) * mask).sum() / mask.sum())

    def to_pixels(self, pred: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
        """Map predictions back to the images' pixel space, (B, L, p*p*C): with a normalised
        target each patch gets back the mean and std of the true patch at its position, so
        pictures of the reconstruction look like images. With ``pca_file`` the prediction is
        first projected onto the PCA basis (what the loss sees of it)."""
        if self.pca_file is not None:
            pred = self.pca_coefficients(pred) @ self.pca_components + self.pca_mean
        if not self.norm_pix:
            return pred
        mean, std = self._patch_stats(patchify(self.target_images(images), self.patch_size))
        return pred * std + mean
