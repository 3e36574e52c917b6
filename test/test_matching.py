"""Greedy one-to-one matching of predicted to ground-truth hands (kpfusion_ros.evaluation.matching)."""

from __future__ import annotations

import numpy as np
import pytest

from kpfusion_ros.evaluation.matching import MATCH_MM, match_centres


def test_nearest_pair_first_one_to_one_within_the_gate():
    gt = [[0.0, 0.0, 500.0], [100.0, 0.0, 500.0]]
    pred = [[95.0, 0.0, 500.0], [10.0, 0.0, 500.0], [400.0, 0.0, 500.0]]
    pairs = match_centres(gt, pred, MATCH_MM)
    assert [(g, p) for g, p, _ in pairs] == [(1, 0), (0, 1)]  # nearest first: 5 mm, then 10 mm
    assert [d for _, _, d in pairs] == pytest.approx([5.0, 10.0])
    # the third prediction is 300 mm from both: a false positive, not a match
    assert all(p != 2 for _, p, _ in pairs)


def test_greedy_not_optimal_assignment():
    """Greedy takes the closest pair first even when another assignment would match more hands."""
    gt = [[0.0, 0.0, 0.0], [40.0, 0.0, 0.0]]
    pred = [[30.0, 0.0, 0.0], [90.0, 0.0, 0.0]]
    # (1, 0) at 10 mm is taken first, leaving gt 0 with pred 1 at 90 mm > 80: a miss and a false positive,
    # although (0, 0) at 30 and (1, 1) at 50 would match both
    assert [(g, p) for g, p, _ in match_centres(gt, pred, MATCH_MM)] == [(1, 0)]


def test_gate_empty_inputs_and_non_finite_centres():
    assert match_centres(np.zeros((0, 3)), [[0.0, 0.0, 0.0]], MATCH_MM) == []
    assert match_centres([[0.0, 0.0, 0.0]], [], MATCH_MM) == []
    assert match_centres([[0.0, 0.0, 0.0]], [[80.0, 0.0, 0.0]], MATCH_MM) == [(0, 0, 80.0)]  # the gate is inclusive
    assert match_centres([[0.0, 0.0, 0.0]], [[80.1, 0.0, 0.0]], MATCH_MM) == []
    nan = [np.nan, 0.0, 0.0]
    assert match_centres([nan, [0.0, 0.0, 0.0]], [[1.0, 0.0, 0.0], nan], MATCH_MM) == [(1, 0, 1.0)]


def test_equal_distances_are_taken_in_index_order():
    gt = [[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]
    pred = [[10.0, 0.0, 0.0], [-10.0, 0.0, 0.0]]
    assert [(g, p) for g, p, _ in match_centres(gt, pred, MATCH_MM)] == [(0, 0), (1, 1)]
