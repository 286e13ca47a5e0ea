"""Analyses from the MFF paper: frequency response of encoder layers and the top Hessian
eigenvalue of the pretraining loss."""
import contextlib
from typing import Callable, Dict, Iterator, List, Sequence

import torch
import torch.nn as nn

from mimlab.models.utils import radial_frequency


def radial_log_amplitude(feature_maps: torch.Tensor) -> torch.Tensor:
    """(B, D, h, w) feature maps -> (num_bands,) the log of the amplitude of their 2-D Fourier
    transform averaged over images, channels and the FFT bins of each band. Band k holds the bins
    whose distance from the zero frequency rounds to k cycles per map, k = 0 .. max."""
    amplitude = torch.fft.fft2(feature_maps.float()).abs().mean(dim=(0, 1)).cpu()  # (h, w)
    bands = radial_frequency(feature_maps.shape[-2:]).round().long().flatten()
    num_bands = int(bands.max()) + 1
    total = torch.zeros(num_bands).index_add_(0, bands, amplitude.flatten())
    count = torch.zeros(num_bands).index_add_(0, bands, torch.ones(bands.numel()))
    return torch.log(total / count + 1e-8)


@torch.no_grad()
def layer_frequency_response(backbone: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """(depth, num_bands) :func:`radial_log_amplitude` of every block's patch tokens, over all
    patches (no masking). ``backbone`` is a :class:`VisionTransformer`."""
    out = backbone.encode(images, hidden_layers=range(backbone.depth))
    grid = (images.shape[2] // backbone.patch_size, images.shape[3] // backbone.patch_size)
    rows = []
    for i in range(backbone.depth):
        tokens = out.hidden_states[i][:, backbone.num_prefix_tokens:]
        maps = tokens.transpose(1, 2).reshape(tokens.shape[0], tokens.shape[2], *grid)
        rows.append(radial_log_amplitude(maps))
    return torch.stack(rows)


@contextlib.contextmanager
def math_attention(model: nn.Module) -> Iterator[None]:
    """Use the plain (twice differentiable) attention in timm blocks for the duration, instead of
    the fused SDPA kernels, so Hessian-vector products can go through it."""
    modules = [m for m in model.modules() if hasattr(m, 'fused_attn')]
    saved = [m.fused_attn for m in modules]
    for m in modules:
        m.fused_attn = False
    try:
        yield
    finally:
        for m, value in zip(modules, saved):
            m.fused_attn = value


def top_hessian_eigenvalue(loss_fn: Callable[[], torch.Tensor], params: Sequence[torch.Tensor],
                           iters: int = 20, tol: float = 1e-4,
                           seed: int = 0) -> Dict[str, object]:
    """The largest-magnitude eigenvalue of the Hessian of ``loss_fn()`` with respect to
    ``params``, by power iteration on Hessian-vector products (double backward).

    ``loss_fn`` must be deterministic (fixed batch and masks). Returns dict(eigenvalue=float,
    trace=[the estimate after each iteration]).
    """
    params = [p for p in params if p.requires_grad]
    generator = torch.Generator().manual_seed(seed)
    v = [torch.randn(p.shape, generator=generator).to(p) for p in params]
    norm = torch.sqrt(sum((x * x).sum() for x in v))
    v = [x / norm for x in v]
    trace: List[float] = []
    eigenvalue = 0.0
    for _ in range(iters):
        grads = torch.autograd.grad(loss_fn(), params, create_graph=True)
        hv = torch.autograd.grad(grads, params, grad_outputs=v)
        eigenvalue = float(sum((a * b).sum() for a, b in zip(hv, v)))
        trace.append(eigenvalue)
        norm = torch.sqrt(sum((x * x).sum() for x in hv))
        v = [x.detach() / norm for x in hv]
        if len(trace) > 1 and abs(trace[-1] - trace[-2]) <= tol * abs(trace[-1]):
            break
    return dict(eigenvalue=eigenvalue, trace=trace)


# The parameters MAE and MFF share: the encoder's blocks (MFF's fusion neck, and the decoders'
# own parameters, would make the two models' Hessians incomparable).
SHARED_ENCODER_BLOCKS = 'backbone.blocks.'


def hessian_eigenvalue_distribution(model: nn.Module, batches: Sequence[torch.Tensor],
                                    seeds: Sequence[int],
                                    param_prefix: str = SHARED_ENCODER_BLOCKS,
                                    iters: int = 20, tol: float = 1e-4) -> Dict[str, object]:
    """The top Hessian eigenvalue of ``model``'s pretraining loss with respect to the parameters
    whose names start with ``param_prefix``, once per (seed, batch): a distribution, as the MFF
    paper reports it, instead of one batch's value. For each pair the masks are drawn with
    ``torch.manual_seed(seed)`` before every loss evaluation (fixed within a power iteration)
    and the start vector with the same seed.

    Returns dict(values=[eigenvalue per pair], runs=[dict(seed, batch, eigenvalue,
    iterations)], mean, std (n - 1), min, max, param_prefix, num_params).
    """
    params = [p for name, p in model.named_parameters()
              if name.startswith(param_prefix) and p.requires_grad]
    if not params:
        raise ValueError(f'no trainable parameter of {type(model).__name__} starts with '
                         f'{param_prefix!r}')
    runs = []
    with math_attention(model):
        for seed in seeds:
            for index, images in enumerate(batches):
                def loss_fn(images=images, seed=seed):
                    torch.manual_seed(seed)  # the same masks at every evaluation
                    return sum(v for k, v in model.loss(images).items() if 'loss' in k)

                result = top_hessian_eigenvalue(loss_fn, params, iters=iters, tol=tol,
                                                seed=seed)
                runs.append(dict(seed=seed, batch=index, eigenvalue=result['eigenvalue'],
                                 iterations=len(result['trace'])))
    values = torch.tensor([r['eigenvalue'] for r in runs], dtype=torch.float64)
    return dict(values=values.tolist(), runs=runs, mean=float(values.mean()),
                std=float(values.std()) if len(values) > 1 else 0.0,
                min=float(values.min()), max=float(values.max()), param_prefix=param_prefix,
                num_params=sum(p.numel() for p in params))
