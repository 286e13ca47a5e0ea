"""A small linear probe on cached features (MAE's protocol: frozen encoder, BatchNorm without
affine parameters before a linear classifier)."""
from typing import Dict, Tuple

import torch
import torch.nn as nn
from torch.utils.data import DataLoader

from mimlab.datasets.builder import collate_present


@torch.no_grad()
def extract_features(model: nn.Module, dataset, batch_size: int = 512,
                     pool: str = 'cls') -> Tuple[torch.Tensor, torch.Tensor]:
    """Encode every image of ``dataset`` with the (frozen) backbone, unmasked.

    Args:
        model: a pretraining algorithm or a classifier (its ``data_preprocessor`` and
            ``backbone.encode`` are used).
        dataset: yields packed samples with ``gt_label`` (None for a bad image a held-out
            dataset leaves out: not counted).
        pool: 'cls' (the cls token) or 'avg' (mean of the patch tokens).

    Returns:
        (N, D) features after the encoder's final norm, (N,) labels.
    """
    model.eval()
    feats, labels = [], []
    for batch in DataLoader(dataset, batch_size=batch_size, collate_fn=collate_present):
        if not batch['inputs']:
            continue
        inputs = model.data_preprocessor(batch, training=False)['inputs']
        tokens = model.backbone.encode(inputs).tokens
        feats.append(tokens[:, 0] if pool == 'cls' else tokens[:, 1:].mean(dim=1))
        labels.append(torch.stack([s.gt_label for s in batch['data_samples']]))
    return torch.cat(feats), torch.cat(labels)


def train_linear_probe(train: Tuple[torch.Tensor, torch.Tensor],
                       test: Tuple[torch.Tensor, torch.Tensor], num_classes: int,
                       epochs: int = 30, batch_size: int = 256, lr: float = 0.1,
                       seed: int = 0) -> Dict[str, float]:
    """SGD (momentum 0.9, cosine lr) on BatchNorm1d(affine=False) + Linear. Returns top-1
    accuracy (%) on ``test`` and on ``train``."""
    torch.manual_seed(seed)
    x, y = train
    probe = nn.Sequential(nn.BatchNorm1d(x.shape[1], affine=False),
                          nn.Linear(x.shape[1], num_classes))
    nn.init.trunc_normal_(probe[1].weight, std=0.01)
    nn.init.zeros_(probe[1].bias)
    opt = torch.optim.SGD(probe.parameters(), lr=lr, momentum=0.9)
    steps = epochs * ((len(x) + batch_size - 1) // batch_size)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    for _ in range(epochs):
        probe.train()
        for idx in torch.randperm(len(x)).split(batch_size):
            loss = nn.functional.cross_entropy(probe(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    probe.eval()
    with torch.no_grad():
        acc = {name: float((probe(fx).argmax(1) == fy).float().mean() * 100)
               for name, (fx, fy) in (('test_top1', test), ('train_top1', train))}
    return acc
