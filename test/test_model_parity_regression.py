"""Regression tests for differences found by the numerical parity check against the authors'
implementation (docs/parity.md)."""

import torch

from kpfusion_ros.model.point_ops import knn_inverse_sq_weights


def test_knn_weights_normaliser_has_eps():
    # Authors (reference §1.3, loader.img2pcl_index): w = inv / (Σ inv + 1e-8), inv = 1/(d² + 1e-8).
    # With far references Σ inv is small, so the +1e-8 in the normaliser is measurable.
    ref = torch.tensor([[[100.0, 0, 0], [0, 100.0, 0], [0, 0, 100.0], [0, 0, -200.0], [0, 0, 300.0]]],
                       dtype=torch.float64)
    w, idx = knn_inverse_sq_weights(torch.zeros(1, 1, 3, dtype=torch.float64), ref, 4)
    assert sorted(idx[0, 0].tolist()) == [0, 1, 2, 3]
    d2 = (ref[0, idx[0, 0]] ** 2).sum(-1)
    inv = 1.0 / (d2 + 1e-8)
    expected = inv / (inv.sum() + 1e-8)
    torch.testing.assert_close(w[0, 0], expected, rtol=1e-13, atol=0)
    # the normaliser's eps makes the weights sum measurably below 1 here (Σ inv ≈ 3.25e-4)
    assert 1.0 - w.sum().item() > 1e-5
