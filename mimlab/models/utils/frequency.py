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
    """PixMIM's ideal circular low-pass filter of (B, C, H, W) images (Liu et al. 2023), as its
    reference code computes it (mmselfsup's ``LowFreqTargetGenerator``), in one vectorised FFT.

    The reference keeps the bins of the ``fftshift``-ed spectrum within ``radius`` of the point
    ((H - 1) / 2, (W - 1) / 2): for an even side that is half a bin off the zero frequency, so
    the filter is not point-symmetric, the filtered image is complex, and the reference takes
    its magnitude (the modulus is also what makes its missing ``ifftshift`` harmless: undoing
    the shift only multiplies each pixel by a phase). Both are kept here, so the target is the
    reference's to float precision (tests/test_mff.py runs the reference on the same images).
    """
    h, w = images.shape[-2:]
    rows = torch.arange(h, device=images.device) - (h - 1) / 2
    cols = torch.arange(w, device=images.device) - (w - 1) / 2
    keep = (rows[:, None] ** 2 + cols[None, :] ** 2) <= radius ** 2
    spectrum = torch.fft.fftshift(torch.fft.fft2(images.float()), dim=(-2, -1)) * keep
    return torch.fft.ifft2(torch.fft.ifftshift(spectrum, dim=(-2, -1))).abs().to(images.dtype)
