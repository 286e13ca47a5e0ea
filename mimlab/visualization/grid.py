"""A picture of labelled columns of images (tokenizer round trips, alignment checks, attention)."""
from typing import Optional, Sequence, Tuple

import numpy as np
from matplotlib.figure import Figure

from .reconstruction import figure_to_array


def draw_columns(columns: Sequence[Tuple[str, np.ndarray]],
                 row_labels: Optional[Sequence[str]] = None, cmap: Optional[str] = None,
                 overlay: Optional[np.ndarray] = None, cell: float = 1.6) -> np.ndarray:
    """One row per image, one column per ``(title, images)`` entry; returns an (H, W, 3) uint8
    RGB picture.

    Args:
        columns: titles with (N, H, W, 3) uint8 images or (N, H, W) float maps (drawn with
            ``cmap``, each scaled to its own range).
        row_labels: N labels, left of each row.
        cmap: colour map of the 2-D maps.
        overlay: (N, H, W, 3) uint8 images drawn under the 2-D maps (half transparent maps).
    """
    n = len(columns[0][1])
    fig = Figure(figsize=(len(columns) * cell, n * cell + 0.3))
    axes = fig.subplots(n, len(columns), squeeze=False)
    for j, (title, images) in enumerate(columns):
        for i in range(n):
            ax = axes[i, j]
            img = images[i]
            if img.ndim == 2:
                if overlay is not None:
                    ax.imshow(overlay[i], interpolation='nearest')
                ax.imshow(img, cmap=cmap, interpolation='nearest',
                          alpha=0.6 if overlay is not None else 1.0,
                          extent=(-0.5, overlay.shape[2] - 0.5, overlay.shape[1] - 0.5, -0.5)
                          if overlay is not None else None)
            else:
                ax.imshow(img, interpolation='nearest')
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(title, fontsize=8)
        if row_labels is not None:
            for i, label in enumerate(row_labels):
                axes[i, 0].set_ylabel(label, fontsize=7)
    return figure_to_array(fig)
