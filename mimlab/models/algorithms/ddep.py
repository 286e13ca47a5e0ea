"""DDeP / DeP: denoising pretraining of a segmentation decoder (Brempong et al. 2022)."""
from contextlib import nullcontext
from typing import Dict, List, Optional, Tuple

import torch

from mimlab.registry import MODELS
from ..utils.noise import NoiseLevel, check_noise, noisy_batch
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

    def denoise(self, noisy: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) noisy images -> (B, C, H, W) the prediction (noise or clean image)."""
        return self.head(self.neck(self.encode(noisy), noisy))

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
    def predict(self, inputs: torch.Tensor, data_samples: Optional[list] = None) -> List[dict]:
        """Per-image denoising loss on held-out images with fixed noise (each image's drawn from
        its own seed, :func:`~.base.sample_seeds`), as ``loss_rec`` for the
        ``ReconstructionLoss`` metric of ``tools/test.py``."""
        pairs = [self.make_noisy(image[None], torch.Generator(inputs.device).manual_seed(seed))
                 for image, seed in zip(inputs, sample_seeds(data_samples, len(inputs)))]
        noisy = torch.cat([n for n, _ in pairs])
        target = torch.cat([t for _, t in pairs])
        errors = (self.denoise(noisy) - target.float()).pow(2).flatten(1).mean(1)
        return [dict(loss_rec=float(e)) for e in errors]
