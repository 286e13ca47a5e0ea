"""A 2-D map of encoder features coloured by class: UMAP (``umap-learn``) or t-SNE
(scikit-learn), one panel per encoder."""
import importlib.util
from typing import Sequence, Tuple

import numpy as np
import torch
from matplotlib import colormaps
from matplotlib.figure import Figure

from .reconstruction import figure_to_array

METHODS = ('auto', 'umap', 'tsne')


def resolve_method(method: str = 'auto') -> str:
    """'umap' when ``umap-learn`` is installed (for 'auto'), else 'tsne'; an explicit 'umap'
    without the package is an error."""
    if method not in METHODS:
        raise ValueError(f'feature map method must be one of {METHODS}, got {method!r}')
    has_umap = importlib.util.find_spec('umap') is not None
    if method == 'umap' and not has_umap:
        raise ImportError("method 'umap' needs umap-learn (pip install umap-learn); "
                          "'tsne' needs only scikit-learn")
    if method == 'auto':
        return 'umap' if has_umap else 'tsne'
    return method


def embed_2d(feats: torch.Tensor, method: str = 'auto', seed: int = 0) -> np.ndarray:
    """(N, 2) coordinates of (N, D) features: UMAP with cosine distance or t-SNE (PCA init,
    cosine distance) on the L2-normalised features, as the kNN compares them."""
    x = torch.nn.functional.normalize(feats.float(), dim=1).numpy()
    method = resolve_method(method)
    if method == 'umap':
        import umap
        reducer = umap.UMAP(n_components=2, metric='cosine', random_state=seed, n_jobs=1)
    else:
        from sklearn.manifold import TSNE
        reducer = TSNE(n_components=2, metric='cosine', init='pca', random_state=seed,
                       perplexity=min(30.0, max(2.0, (len(x) - 1) / 3)))
    return np.asarray(reducer.fit_transform(x), dtype=np.float32)


def draw_feature_maps(panels: Sequence[Tuple[str, np.ndarray, np.ndarray]],
                      classes: Sequence[str], title: str = '') -> np.ndarray:
    """A picture ((H, W, 3) uint8) with one scatter panel per (name, (N, 2) points, (N,)
    labels), the classes coloured alike in every panel and named in one legend."""
    fig = Figure(figsize=(5.2 * len(panels) + 1.8, 5.2))
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    cmap = colormaps['tab10' if len(classes) <= 10 else 'tab20']
    for ax, (name, points, labels) in zip(axes, panels):
        for c, cls in enumerate(classes):
            keep = labels == c
            ax.scatter(points[keep, 0], points[keep, 1], s=4, color=cmap(c % cmap.N),
                       label=cls, alpha=0.8, linewidths=0)
        ax.set_title(name, fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
    handles, names = axes[0].get_legend_handles_labels()
    fig.legend(handles, names, loc='center right', markerscale=4, fontsize=9, frameon=False)
    if title:
        fig.suptitle(title, fontsize=10)
    return figure_to_array(fig, rect=(0, 0, 1 - 1.6 / fig.get_figwidth(), 1))
