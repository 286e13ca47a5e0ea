"""PCA of image patches: the basis of MAE's PCA reconstruction target (He et al. 2021,
Table 1d: regress the patch's largest PCA coefficients)."""
import os.path as osp
from typing import Dict, Tuple

import torch

PCA_KEYS = ('mean', 'components', 'explained_variance', 'total_variance')


def fit_pca(samples: torch.Tensor, k: int) -> Dict[str, torch.Tensor]:
    """The top-``k`` principal components of ``samples`` (N, D), in float64 for the covariance.

    Returns:
        dict with ``mean`` (D,), ``components`` (k, D) orthonormal rows by decreasing variance,
        ``explained_variance`` (k,) the variance along each, ``total_variance`` () the sum over
        all D directions (so the share kept is explained_variance.sum() / total_variance).
    """
    if samples.ndim != 2:
        raise ValueError(f'fit_pca needs (N, D) samples, got shape {tuple(samples.shape)}')
    n, d = samples.shape
    if not 1 <= k <= d:
        raise ValueError(f'PCA k={k} must lie in [1, {d}] for {d}-dimensional samples')
    if n < 2:
        raise ValueError(f'fit_pca needs at least 2 samples, got {n}')
    x = samples.double()
    mean = x.mean(dim=0)
    centred = x - mean
    cov = centred.T @ centred / (n - 1)
    values, vectors = torch.linalg.eigh(cov)  # ascending
    order = torch.argsort(values, descending=True)[:k]
    return dict(mean=mean.float(), components=vectors[:, order].T.contiguous().float(),
                explained_variance=values[order].clamp_min(0).float(),
                total_variance=values.clamp_min(0).sum().float())


def load_pca(path: str, dim: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """(mean (D,), components (k, D)) from a file written by
    ``tools/analysis_tools/fit_patch_pca.py``, checked against the patch size ``dim``."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'head pca_file={path!r} does not exist (write it with '
                                'tools/analysis_tools/fit_patch_pca.py)')
    state = torch.load(path, map_location='cpu', weights_only=True)
    missing = [key for key in PCA_KEYS if not isinstance(state, dict) or key not in state]
    if missing:
        raise KeyError(f'head pca_file={path!r} lacks {missing}: not a file of fit_patch_pca.py')
    mean, components = state['mean'].float(), state['components'].float()
    if mean.shape != (dim,) or components.ndim != 2 or components.shape[1] != dim:
        raise ValueError(f'head pca_file={path!r} holds components of shape '
                         f'{tuple(components.shape)} and a mean of {tuple(mean.shape)}, but the '
                         f'patches have {dim} values (p * p * C): fit it for this model')
    return mean, components
