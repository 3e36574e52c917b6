"""MPJPE of published hand poses against ground-truth hand poses, frame by frame (by stamp).

Both sides are kpfusion_ros/HandPoseArray messages (the node's output and a recording's
ground-truth topic) keyed by their header stamp. In every frame with output, the ground-truth
hands with at least ``min_visible`` visible joints (joint_confidence > 0.5) are matched one to
one to the predicted hands by the distance of their joint means
(:func:`kpfusion_ros.evaluation.matching.match_centres`, ≤ ``max_centre_m``); a matched pair
adds its mean joint error, an unmatched ground-truth hand is *missed*, an unmatched prediction
a *false positive*. The same protocol as the evaluation's real-use one (80 mm gate).
"""

from __future__ import annotations

import numpy as np

from kpfusion_ros.evaluation.matching import MATCH_MM, match_centres
from kpfusion_ros.hand import HANDEDNESS_UNKNOWN

MIN_VISIBLE = 5  # ground-truth hands with fewer visible joints are not scored
MATCH_M = MATCH_MM / 1000.0


def hand_arrays(msg) -> list[tuple[int, np.ndarray, np.ndarray, np.ndarray]]:
    """[(id, joints (21,3) m, pixels (21,2), joint_confidence (21,))] of a HandPoseArray."""
    out = []
    for h in msg.hands:
        j = np.array([[p.x, p.y, p.z] for p in h.joints], dtype=np.float64)
        px = np.stack([np.asarray(h.pixel_u, dtype=np.float64), np.asarray(h.pixel_v, dtype=np.float64)], axis=1)
        out.append((int(h.id), j, px, np.asarray(h.joint_confidence, dtype=np.float64)))
    return out


def match_hands(gt: list, pred: list, max_centre_m: float = MATCH_M) -> list[tuple[int, int, float]]:
    """Ground-truth to predicted hands (:func:`hand_arrays` items) by joint-mean distance:
    [(gt index, pred index, centre distance m)]."""
    from kpfusion_ros.tracking import joint_mean  # non-finite joints ignored

    return match_centres([joint_mean(g[1]) for g in gt], [joint_mean(p[1]) for p in pred], max_centre_m)


def score(gt_by_stamp: dict, pred_by_stamp: dict, min_visible: int = MIN_VISIBLE,
          max_centre_m: float = MATCH_M) -> dict:
    """MPJPE (mm, mean and median over matched hands) and the counts, over the frames with output; ``handedness``
    counts the matched hands whose published side is the ground truth's, another, or UNKNOWN."""
    errs, n_gt, n_matched, n_pred, frames = [], 0, 0, 0, 0
    sides = {"correct": 0, "wrong": 0, "unknown": 0}  # matched hands' published side against the ground truth's
    for stamp, pmsg in pred_by_stamp.items():
        gmsg = gt_by_stamp.get(stamp)
        if gmsg is None:
            continue
        frames += 1
        gt_all = hand_arrays(gmsg)
        keep = [k for k, g in enumerate(gt_all) if (g[3] > 0.5).sum() >= min_visible]
        gt = [gt_all[k] for k in keep]
        pred = hand_arrays(pmsg)
        n_gt += len(gt)
        n_pred += len(pred)
        for gi, pi, _ in match_hands(gt, pred, max_centre_m):
            d = np.linalg.norm(gt[gi][1] - pred[pi][1], axis=1) * 1000.0
            errs.append(float(np.nanmean(d)))
            n_matched += 1
            published, truth = int(pmsg.hands[pi].handedness), int(gmsg.hands[keep[gi]].handedness)
            sides["unknown" if published == HANDEDNESS_UNKNOWN else ("correct" if published == truth else "wrong")] += 1
    e = np.asarray(errs)
    return {"scored_frames": frames, "gt_hands": n_gt, "matched_hands": n_matched, "missed_hands": n_gt - n_matched,
            "false_positives": n_pred - n_matched, "match_centre_mm": max_centre_m * 1000.0,
            "mpjpe_mm": float(e.mean()) if e.size else None,
            "mpjpe_mm_median": float(np.median(e)) if e.size else None,
            "handedness": sides}
