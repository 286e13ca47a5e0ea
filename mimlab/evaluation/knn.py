"""Weighted kNN classification on cached features (the protocol of Wu et al. 2018 / DINO used in
MIM papers): cosine similarity, the k nearest training features vote with weight
exp(similarity / temperature)."""
from typing import Dict, Tuple

import torch
import torch.nn.functional as F


@torch.no_grad()
def knn_predict(train_feats: torch.Tensor, train_labels: torch.Tensor, query: torch.Tensor,
                num_classes: int, k: int = 20, temperature: float = 0.07,
                chunk: int = 1024) -> torch.Tensor:
    """(Q, num_classes) vote scores for each query feature.

    Args:
        train_feats: (N, D) features of the labelled set; train_labels: (N,) integer labels.
        query: (Q, D) features to classify.
        k: neighbours that vote (at most N); temperature: the softmax-like weight's temperature.
    """
    if train_feats.ndim != 2 or query.ndim != 2 or train_feats.shape[1] != query.shape[1]:
        raise ValueError(f'kNN needs (N, D) and (Q, D) features, got {tuple(train_feats.shape)} '
                         f'and {tuple(query.shape)}')
    if len(train_feats) != len(train_labels):
        raise ValueError(f'{len(train_feats)} training features but {len(train_labels)} labels')
    k = min(k, len(train_feats))
    bank = F.normalize(train_feats.float(), dim=1)
    scores = []
    for part in F.normalize(query.float(), dim=1).split(chunk):
        sim, idx = (part @ bank.T).topk(k, dim=1)
        votes = torch.zeros(len(part), num_classes)
        votes.scatter_add_(1, train_labels[idx].long(), (sim / temperature).exp())
        scores.append(votes)
    return torch.cat(scores)


def knn_accuracy(train: Tuple[torch.Tensor, torch.Tensor], test: Tuple[torch.Tensor, torch.Tensor],
                 num_classes: int, k: int = 20, temperature: float = 0.07) -> Dict[str, float]:
    """Top-1 accuracy (%) of weighted kNN on ``test`` with ``train`` as the labelled bank."""
    scores = knn_predict(train[0], train[1], test[0], num_classes, k, temperature)
    top1 = (scores.argmax(1) == test[1]).float().mean() * 100
    return dict(knn_top1=float(top1), k=k, temperature=temperature)
