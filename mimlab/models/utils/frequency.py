"""Frequency-domain helpers: PixMIM's low-pass target and radial spectra."""
from typing import Tuple

import torch


def radial_frequency(size: Tuple[int, int], device=None) -> torch.Tensor:
    """(H, W) distance of each FFT bin from the zero frequency, in cycles per image, in the
    unshifted layout of ``torch.fft.fft2``."""
    h, w = size
    fy = torch.fft.fftfreq(h, device=device) * h
    fx = torch.fft.fftfreq(w, device=device) * w
    return torch.sqrt(fy[:, None] ** 2 + fx[None, :] ** 2)


def low_pass(images: torch.Tensor, radius: float) -> torch.Tensor:
    """Ideal circular low-pass filter of (B, C, H, W) images in one vectorised FFT: frequencies
    farther than ``radius`` cycles per image from zero are removed (PixMIM, Liu et al. 2023)."""
    keep = (radial_frequency(images.shape[-2:], images.device) <= radius).to(images.dtype)
    spectrum = torch.fft.fft2(images.float()) * keep
    return torch.fft.ifft2(spectrum).real.to(images.dtype)
