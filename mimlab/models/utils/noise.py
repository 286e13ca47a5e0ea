"""Gaussian noise of denoising pretraining (DDeP, Brempong et al. 2022).

Convention: noise is added to the images the encoder sees, i.e. after the data preprocessor's
per-channel normalisation (unit variance per channel on the training set). Two forms:

* ``'scaled'`` (the paper's): ``x_n = sqrt(gamma) * x + sqrt(1 - gamma) * eps``, the noise
  magnitude being ``sigma = sqrt(1 - gamma)``; the input's variance is kept (1 for unit-variance
  data).
* ``'additive'``: ``x_n = x + sigma * eps``.

``eps`` is standard normal, drawn per pixel and channel. ``sigma`` is one level for every image,
or a range ``(low, high)`` from which each image draws its own level uniformly (the paper's
variable-noise ablation).
"""
from typing import Optional, Sequence, Tuple, Union

import torch

NOISE_FORMS = ('scaled', 'additive')
NoiseLevel = Union[float, Sequence[float]]


def check_noise(sigma: NoiseLevel, form: str) -> None:
    """Raise a ValueError naming the bad setting: an unknown form, a level outside (0, 1] for the
    scaled form (gamma = 1 - sigma^2 must lie in [0, 1)), a non-positive level, a bad range."""
    if form not in NOISE_FORMS:
        raise ValueError(f'noise form must be one of {NOISE_FORMS}, got {form!r}')
    levels = [sigma] if isinstance(sigma, (int, float)) else list(sigma)
    if len(levels) not in (1, 2) or (len(levels) == 2 and levels[0] > levels[1]):
        raise ValueError(f'noise sigma must be a number or a range (low, high) with low <= high, '
                         f'got {sigma!r}')
    for level in levels:
        if not 0 < level <= (1 if form == 'scaled' else float('inf')):
            bound = '(0, 1]' if form == 'scaled' else '(0, inf)'
            raise ValueError(f'noise sigma must lie in {bound} for the {form} form, got {sigma!r}')


def draw_noise_levels(batch_size: int, sigma: NoiseLevel,
                      generator: Optional[torch.Generator] = None,
                      device: Union[str, torch.device] = 'cpu') -> torch.Tensor:
    """(B,) noise levels: ``sigma`` for every image, or uniform in ``sigma = (low, high)``."""
    if isinstance(sigma, (int, float)):
        return torch.full((batch_size,), float(sigma), device=device)
    low, high = (float(s) for s in sigma)
    u = torch.rand(batch_size, generator=generator, device=device)
    return low + (high - low) * u


def add_noise(images: torch.Tensor, sigma: torch.Tensor, eps: torch.Tensor,
              form: str = 'scaled') -> torch.Tensor:
    """The noisy images (B, C, H, W) for given per-image levels ``sigma`` (B,) and noise ``eps``
    (B, C, H, W), in the ``form`` described in the module docstring."""
    s = sigma.to(images.dtype).view(-1, *([1] * (images.dim() - 1)))
    if form == 'scaled':
        return (1 - s * s).sqrt() * images + s * eps
    if form == 'additive':
        return images + s * eps
    raise ValueError(f'noise form must be one of {NOISE_FORMS}, got {form!r}')


def implied_noise(noisy: torch.Tensor, images: torch.Tensor, sigma: torch.Tensor,
                  form: str = 'scaled') -> torch.Tensor:
    """The noise ``eps`` that turns ``images`` into ``noisy`` at per-image levels ``sigma`` (B,):
    :func:`add_noise` solved for ``eps``, ``(x_n - sqrt(1 - sigma^2) x) / sigma`` (scaled) or
    ``(x_n - x) / sigma`` (additive). With a predicted clean image for ``images`` it is the
    noise that prediction implies, so an image-target model is scored on the noise."""
    s = sigma.to(noisy.dtype).view(-1, *([1] * (noisy.dim() - 1)))
    if form == 'scaled':
        return (noisy - (1 - s * s).sqrt() * images) / s
    if form == 'additive':
        return (noisy - images) / s
    raise ValueError(f'noise form must be one of {NOISE_FORMS}, got {form!r}')


def noisy_batch(images: torch.Tensor, sigma: NoiseLevel, form: str = 'scaled',
                generator: Optional[torch.Generator] = None
                ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Draw noise for a batch: (noisy images, eps, per-image sigma (B,))."""
    levels = draw_noise_levels(images.shape[0], sigma, generator, images.device)
    eps = torch.randn(images.shape, generator=generator, device=images.device,
                      dtype=images.dtype)
    return add_noise(images, levels, eps, form), eps, levels
