"""Pictures of reconstructions: masked | reconstruction | reconstruction + visible | original."""
import os
import os.path as osp
from typing import Optional, Sequence, Tuple

import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

PANELS = ('masked', 'reconstruction', 'reconstruction + visible', 'original')


def to_uint8_images(images: torch.Tensor, normalisation) -> np.ndarray:
    """(B, C, H, W) normalised -> (B, H, W, C) uint8, undoing the inputs' normalisation (a
    :class:`~mimlab.models.utils.PixelNormalisation`, the model's ``pixel_normalisation``)."""
    pixels = normalisation.to_pixels(images.detach().cpu())
    return pixels.clamp(0, 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()


def draw_reconstructions(rec, normalisation,
                         titles: Optional[Sequence[str]] = None) -> np.ndarray:
    """One row per image, the four panels of :data:`PANELS`; returns an (H, W, 3) uint8 RGB
    picture. ``rec`` is an :class:`~mimlab.models.algorithms.mae.Reconstruction`,
    ``normalisation`` the model's ``pixel_normalisation``."""
    rows = [to_uint8_images(t, normalisation)
            for t in (rec.masked, rec.reconstruction, rec.pasted, rec.original)]
    n = rows[0].shape[0]
    fig = Figure(figsize=(4 * 1.8, n * 1.8 + 0.3))
    axes = fig.subplots(n, 4, squeeze=False)
    for i in range(n):
        for j in range(4):
            ax = axes[i, j]
            img = rows[j][i]
            ax.imshow(img[..., 0] if img.shape[-1] == 1 else img,
                      cmap='gray' if img.shape[-1] == 1 else None, interpolation='nearest')
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(PANELS[j], fontsize=9)
        label = f'loss {float(rec.loss[i]):.3f}'
        if titles is not None:
            label = f'{titles[i]}\n{label}'
        axes[i, 0].set_ylabel(label, fontsize=7)
    return figure_to_array(fig)


def figure_to_array(fig: Figure, rect: Tuple[float, float, float, float] = (0, 0, 1, 1)
                    ) -> np.ndarray:
    """Lay out (matplotlib's tight layout within ``rect``, in figure fractions: leave room for
    a figure legend) and render a matplotlib figure; (H, W, 3) uint8 RGB. The figure gets its own
    Agg canvas: no pyplot, so drawing neither switches nor depends on the process's backend."""
    canvas = FigureCanvasAgg(fig)
    fig.tight_layout(rect=rect)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def save_picture(picture: np.ndarray, path: str) -> None:
    """Write an RGB uint8 picture as PNG, creating its folder if needed."""
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    Image.fromarray(picture).save(path)


def save_figure(fig: Figure, path: str, dpi: int = 120) -> None:
    """Write a pyplot figure (creating its folder if needed) and close it."""
    import matplotlib.pyplot as plt  # the tools choose the backend before pyplot is imported
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
