"""A reference point for DDeP's denoising loss: the noise estimate of a fixed 3x3 high-pass
filter, with one scale fitted by least squares. A decoder that predicts the noise worse than this
has not learnt to use the fine scale of the noisy image."""
from typing import Dict, Iterable, Tuple

import torch
import torch.nn.functional as F


def highpass(images: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> each pixel minus the mean of its 3x3 neighbourhood (per channel, edges
    replicated): white noise passes with 8/9 of its variance, smooth image content hardly."""
    channels = images.shape[1]
    kernel = torch.full((channels, 1, 3, 3), -1.0 / 9, dtype=images.dtype, device=images.device)
    kernel[:, :, 1, 1] += 1.0
    return F.conv2d(F.pad(images, (1, 1, 1, 1), mode='replicate'), kernel, groups=channels)


def highpass_noise_baseline(pairs: Iterable[Tuple[torch.Tensor, torch.Tensor]]
                            ) -> Dict[str, float]:
    """Fit ``eps ~ scale * highpass(noisy)`` over all (noisy, eps) batches (one least-squares
    scale) and return ``dict(scale=..., mse=...)``: the mean squared error of that estimate
    over every pixel and channel, comparable with DDeP's ``loss_denoise``."""
    hh = ht = tt = 0.0
    count = 0
    for noisy, eps in pairs:
        h = highpass(noisy.double())
        eps = eps.double()
        hh += float((h * h).sum())
        ht += float((h * eps).sum())
        tt += float((eps * eps).sum())
        count += eps.numel()
    if count == 0:
        raise ValueError('highpass_noise_baseline got no batches')
    scale = ht / hh
    return dict(scale=scale, mse=(tt - 2 * scale * ht + scale * scale * hh) / count)
