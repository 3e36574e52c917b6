"""Matching predicted hands to ground-truth hands: greedy, one-to-one, nearest pair first, within a gate.

Every place that scores hands found in a full frame (the evaluation's real-use protocol, the
localiser benchmark, the demo's and ``kpfusion-bag --score``'s MPJPE) pairs them this way: the
closest (ground truth, prediction) pair is matched first, then the closest of the pairs left
whose members are both unused, and so on until the next pair is farther than the gate. An
unmatched ground-truth hand is a *miss*, an unmatched prediction a *false positive*.
Distances are between hand centres (the callers decide what the centre is, e.g. the joint
mean) in whatever unit the caller uses; the gate is in the same unit.
"""

from __future__ import annotations

import numpy as np

#: The gate (mm) every scorer uses by default: a prediction whose centre is farther than this
#: from a ground-truth hand's is not that hand.
MATCH_MM = 80.0


def match_centres(gt, pred, max_dist: float) -> list[tuple[int, int, float]]:
    """Greedy one-to-one matching of ground-truth centres (G×3) to predicted centres (P×3).

    Returns ``[(gt index, pred index, distance)]``, nearest first. Pairs farther than
    ``max_dist`` and pairs with a non-finite centre are never matched. Equal distances are
    taken in (gt index, pred index) order, so the result does not depend on the sort.
    """
    g = np.asarray(gt, dtype=np.float64).reshape(-1, 3)
    p = np.asarray(pred, dtype=np.float64).reshape(-1, 3)
    if len(g) == 0 or len(p) == 0:
        return []
    dist = np.linalg.norm(g[:, None, :] - p[None, :, :], axis=-1)
    dist[~np.isfinite(dist)] = np.inf
    used_g, used_p, pairs = set(), set(), []
    for flat in np.argsort(dist, axis=None, kind="stable"):
        i, j = (int(k) for k in np.unravel_index(flat, dist.shape))
        d = float(dist[i, j])
        if not d <= max_dist:
            break
        if i in used_g or j in used_p:
            continue
        used_g.add(i)
        used_p.add(j)
        pairs.append((i, j, d))
    return pairs
