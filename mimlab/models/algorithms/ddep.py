"""DDeP / DeP: denoising pretraining of a segmentation decoder (Brempong et al. 2022)."""
from contextlib import nullcontext
from typing import Dict, List, Optional, Tuple

import torch

from mimlab.registry import MODELS
from ..utils.noise import NoiseLevel, check_noise, implied_noise, noisy_batch
from .base import BaseAlgorithm, sample_seeds

TARGETS = ('noise', 'image')


@MODELS.register_module()
class DDeP(BaseAlgorithm):
    """Add Gaussian noise -> encoder (features at several depths) -> U-Net decoder (those features
    and the noisy image) -> predict the noise; MSE over all pixels.

    DDeP freezes the (pretrained) encoder and trains the decoder only; DeP trains both. The one
    switch is ``freeze_encoder``. A frozen encoder runs without gradient and stays in eval mode
    (its norm statistics and dropout too).

    Args:
        backbone: an encoder whose ``forward`` returns feature maps, shallow first:
            :class:`VisionTransformer` with ``out_type='featmap'`` and several ``out_indices``, or
            :class:`TimmEncoder`. Load pretrained weights with its ``init_cfg``.
        neck: a :class:`UNetDecoder`; its ``in_channels``/``in_strides`` come from the
            encoder's spec (``feature_maps``: channels and strides); its image skips see the
            noisy image.
        head: a :class:`DenoisingHead`; its channels come from the decoder and the backbone.
        noise_sigma: noise magnitude, one level (paper: 0.22) or a range ``(low, high)`` drawn
            per image. See :mod:`mimlab.models.utils.noise` for the convention.
        noise_form: 'scaled' (x_n = sqrt(1 - sigma^2) x + sigma eps, the paper's) or 'additive'
            (x_n = x + sigma eps).
        target: 'noise' (predict eps, the paper's) or 'image' (predict the clean x).
        freeze_encoder: True for DDeP, False for DeP.
    """

    def __init__(self, backbone: dict, neck: dict, head: Optional[dict] = None,
                 noise_sigma: NoiseLevel = 0.22, noise_form: str = 'scaled',
                 target: str = 'noise', freeze_encoder: bool = True,
                 data_preprocessor: Optional[dict] = None, init_cfg=None) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        check_noise(noise_sigma, noise_form)
        if target not in TARGETS:
            raise ValueError(f'DDeP target must be one of {TARGETS}, got {target!r}')
        self.noise_sigma = noise_sigma if isinstance(noise_sigma, (int, float)) else tuple(
            noise_sigma)
        self.noise_form = noise_form
        self.target = target
        spec = self.build_encoder(backbone)
        if spec.feature_maps is None:
            raise ValueError("DDeP's U-Net decoder needs the encoder's feature maps: give the "
                             "backbone out_type='featmap' (a VisionTransformer) or use a "
                             'TimmEncoder')
        self.neck = MODELS.build(neck, default_args=dict(
            in_channels=spec.feature_maps.channels, in_strides=spec.feature_maps.strides,
            in_chans=spec.in_chans))
        self.head = MODELS.build(head or dict(type='DenoisingHead'), default_args=dict(
            in_channels=self.neck.out_channels, out_channels=spec.in_chans))
        self.encoder_spec = spec
        self.freeze_encoder = freeze_encoder
        if freeze_encoder:
            for p in self.backbone.parameters():
                p.requires_grad = False
        self.train()

    def train(self, mode: bool = True) -> 'DDeP':
        super().train(mode)
        if self.freeze_encoder:
            self.backbone.eval()
        return self

    def encode(self, images: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        """The encoder's feature maps (shallow first); without gradient when frozen."""
        with torch.no_grad() if self.freeze_encoder else nullcontext():
            return tuple(self.backbone(images))

    def denoise(self, noisy: torch.Tensor, zero_encoder: bool = False) -> torch.Tensor:
        """(B, C, H, W) noisy images -> (B, C, H, W) the prediction (noise or clean image).

        ``zero_encoder=True`` feeds the decoder zeros in place of the encoder's features, so that
        only its image skips carry information about the input (without skips the prediction
        does not depend on the input at all): the skip path's share of the denoising."""
        features = self.encode(noisy)
        if zero_encoder:
            features = tuple(torch.zeros_like(f) for f in features)
        return self.head(self.neck(features, noisy))

    def predicted_noise(self, pred: torch.Tensor, noisy: torch.Tensor,
                        sigma: torch.Tensor) -> torch.Tensor:
        """The noise (B, C, H, W) that a prediction of :meth:`denoise` on ``noisy`` at per-image
        levels ``sigma`` (B,) stands for: the prediction itself for the noise target; for the
        image target the noise that the predicted clean image implies through the noise model
        (:func:`~mimlab.models.utils.noise.implied_noise`), so both targets are scored in one
        unit."""
        if self.target == 'noise':
            return pred
        return implied_noise(noisy, pred, sigma, self.noise_form)

    def make_noisy(self, images: torch.Tensor, generator: Optional[torch.Generator] = None
                   ) -> Tuple[torch.Tensor, torch.Tensor]:
        """(noisy images, target) for a batch of normalised images."""
        noisy, eps, _ = noisy_batch(images, self.noise_sigma, self.noise_form, generator)
        return noisy, eps if self.target == 'noise' else images

    def extract_feat(self, inputs: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        """The encoder's feature maps of the whole image, shallow first."""
        return self.encode(inputs)

    def loss(self, inputs: torch.Tensor,
             data_samples: Optional[list] = None) -> Dict[str, torch.Tensor]:
        noisy, target = self.make_noisy(inputs)
        return self.head.loss(self.denoise(noisy), target)

    @torch.no_grad()
    def predict(self, inputs: torch.Tensor, data_samples: Optional[list] = None,
                zero_encoder: bool = False) -> List[dict]:
        """Per-image held-out errors with fixed noise (each image's drawn from its own seed,
        :func:`~.base.sample_seeds`), for the ``ReconstructionLoss`` metric of ``tools/test.py``:

        - ``loss_rec``: the training loss, the MSE against the target (noise or clean image);
        - ``eps_mse``: the MSE of the predicted noise (:meth:`predicted_noise`), one unit for both
          targets;
        - ``eps_sq``: the mean of ``eps^2``, the ``eps_mse`` of predicting no noise (about 1).

        ``zero_encoder``: predict with the encoder's features zeroed (:meth:`denoise`)."""
        draws = [noisy_batch(image[None], self.noise_sigma, self.noise_form,
                             torch.Generator(inputs.device).manual_seed(seed))
                 for image, seed in zip(inputs, sample_seeds(data_samples, len(inputs)))]
        noisy, eps, levels = (torch.cat(parts) for parts in zip(*draws))
        pred = self.denoise(noisy, zero_encoder).float()
        eps_pred = self.predicted_noise(pred, noisy.float(), levels)
        target = eps if self.target == 'noise' else inputs

        def per_image(diff: torch.Tensor) -> List[float]:
            return diff.float().pow(2).flatten(1).mean(1).tolist()

        return [dict(loss_rec=rec, eps_mse=err, eps_sq=sq) for rec, err, sq in zip(
            per_image(pred - target.float()), per_image(eps_pred - eps.float()), per_image(eps))]
