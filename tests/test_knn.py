import torch

from mimlab.evaluation import knn_accuracy, knn_predict


def test_knn_votes_match_a_hand_computation():
    bank = torch.tensor([[1., 0.], [0.8, 0.6], [0., 1.], [-1., 0.]])
    labels = torch.tensor([0, 1, 1, 2])
    query = torch.tensor([[2., 0.]])  # cosine sims 1, 0.8, 0, -1
    scores = knn_predict(bank, labels, query, num_classes=3, k=2, temperature=0.5)
    expected = torch.tensor([[torch.exp(torch.tensor(2.)), torch.exp(torch.tensor(1.6)), 0.]])
    torch.testing.assert_close(scores, expected)
    # with k=3 the third neighbour (sim 0) votes for class 1: e^1.6 + e^0 < e^2 still
    scores = knn_predict(bank, labels, query, num_classes=3, k=3, temperature=0.5)
    assert scores[0, 1] == torch.exp(torch.tensor(1.6)) + 1


def test_knn_accuracy_on_separable_clusters_and_chance_on_noise():
    g = torch.Generator().manual_seed(0)
    centres = torch.randn(5, 16, generator=g) * 3
    y = torch.arange(500) % 5
    x = centres[y] + torch.randn(500, 16, generator=g)
    acc = knn_accuracy((x[:400], y[:400]), (x[400:], y[400:]), num_classes=5)
    assert acc['knn_top1'] == 100.0
    noise = torch.randn(500, 16, generator=g)
    acc = knn_accuracy((noise[:400], y[:400]), (noise[400:], y[400:]), num_classes=5)
    assert acc['knn_top1'] < 45
