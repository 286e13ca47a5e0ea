"""Pictures of downstream predictions: class maps and instances (masks, boxes, names) over the
input, one row per image, one column per source (ground truth, each init's run)."""
from typing import Optional, Sequence, Tuple

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle

from .reconstruction import figure_to_array

# Ten well-separated colours (one per class; more classes cycle).
PALETTE = np.array([[230, 25, 75], [60, 180, 75], [255, 225, 25], [0, 130, 200],
                    [245, 130, 48], [145, 30, 180], [70, 240, 240], [240, 50, 230],
                    [170, 110, 40], [128, 128, 0]], dtype=np.float32)


def class_colour(label: int) -> np.ndarray:
    return PALETTE[int(label) % len(PALETTE)]


def paint_classes(image: np.ndarray, class_map: np.ndarray, alpha: float = 0.6) -> np.ndarray:
    """The (H, W, 3) uint8 image with each pixel of class k >= 0 blended with class k's
    colour (pixels < 0 left as they are)."""
    out = image.astype(np.float32).copy()
    painted = class_map >= 0
    colours = PALETTE[class_map[painted] % len(PALETTE)]
    out[painted] = (1 - alpha) * out[painted] + alpha * colours
    return out.astype(np.uint8)


def paint_instances(image: np.ndarray, masks: np.ndarray, labels: np.ndarray,
                    alpha: float = 0.6) -> np.ndarray:
    """The image with each instance's (H, W) bool mask blended with its class colour, drawn
    in order (a later instance covers an earlier one)."""
    class_map = np.full(image.shape[:2], -1, dtype=np.int64)
    for mask, label in zip(masks, labels):
        class_map[mask.astype(bool)] = label
    return paint_classes(image, class_map, alpha)


def draw_prediction_grid(columns: Sequence[Tuple[str, Sequence[np.ndarray]]],
                         class_names: Sequence[str],
                         boxes: Optional[Sequence[Sequence[Tuple[np.ndarray, np.ndarray,
                                                                  np.ndarray]]]] = None,
                         cell: float = 2.0) -> np.ndarray:
    """One row per image, one column per ``(title, painted images)``; ``boxes[j][i]`` =
    (K x 4 xyxy boxes, K labels, K scores) drawn over column j, row i with the class name and
    score. A legend of the class colours closes the picture. Returns (H, W, 3) uint8 RGB."""
    rows = len(columns[0][1])
    fig = Figure(figsize=(len(columns) * cell, rows * cell + 0.8))
    axes = fig.subplots(rows, len(columns), squeeze=False)
    for j, (title, images) in enumerate(columns):
        for i, image in enumerate(images):
            ax = axes[i, j]
            ax.imshow(image, interpolation='nearest')
            ax.set_xticks([])
            ax.set_yticks([])
            if boxes is not None and boxes[j] is not None:
                for box, label, score in zip(*boxes[j][i]):
                    colour = class_colour(label) / 255
                    ax.add_patch(Rectangle((box[0] - 0.5, box[1] - 0.5), box[2] - box[0],
                                           box[3] - box[1], fill=False, lw=1.2, ec=colour))
                    ax.text(box[0], box[1] - 1, f'{class_names[label]} {score:.2f}'
                            if score < 1 else class_names[label], fontsize=5, color='white',
                            va='bottom', bbox=dict(fc=colour, ec='none', pad=0.5))
            if i == 0:
                ax.set_title(title, fontsize=7)
    handles = [Patch(color=class_colour(k) / 255, label=name)
               for k, name in enumerate(class_names)]
    fig.legend(handles=handles, loc='lower center', ncol=min(5, len(class_names)), fontsize=6,
               frameon=False)
    return figure_to_array(fig, rect=(0, 0.6 / (rows * cell + 0.8), 1, 1))  # room for the legend
