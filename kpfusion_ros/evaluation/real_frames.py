"""Evaluation on real RGB-D frames (a dataset reader such as :class:`~kpfusion_ros.data.fphab.FPHAB`).

Two protocols over the reader's frames, in sequence order:

* ``gt_crops``: every labelled hand is cropped at the mean of its GT joints (the paper's protocol)
  and run once through the network, with the node's crop settings
  (:meth:`~kpfusion_ros.pipeline.HandPosePipeline.estimate`; a hand labelled left is mirrored, as in
  training and the paper's protocol: F-PHAB labels right hands, rendered sequences both). Beside the network, two **trivial baselines** on the same
  frames: the mean training pose placed at the GT centre (:func:`mean_training_pose`) and all 21
  joints at the GT centre. Metrics: MPJPE, PA-MPJPE, PCK at :data:`PCK_THRESHOLDS_MM`, per finger,
  hand size (wrist → middle tip, mean joint-to-centre distance, summed bone length) and every bone's
  median length against the labels', the frame-to-frame jitter against the labels' (:func:`jitter_mm`),
  the **convention floor** (:func:`skeleton_floor`): what the labels score when redrawn with the
  training skeleton's proportions, i.e. what differs between the dataset's joint placement and the
  renderer's before any network error, and the MPJPE by joints seen per hand (:func:`error_by_seen`).
* ``node``: :class:`~kpfusion_ros.pipeline.HandPosePipeline` with the node's defaults
  (``pipeline_config(NodeConfig())``) over each sequence in frame order with its stamps (tracker
  reset between sequences). A published hand whose crop centre is ≤ ``match_mm`` from the GT joint
  mean (greedy one-to-one, nearest first) is the labelled hand found; every other published hand
  is a detection elsewhere. Readers that label only one hand (F-PHAB: the right hand) make the
  subject's other hand, when it is visible and found, count there too: nothing here can tell it
  apart, so the count is an upper bound on false hands. Metrics: detection rate, detections
  elsewhere, centre error median / p90, MPJPE / PA-MPJPE / PCK over found hands, handedness
  accuracy (``HandEstimate.handedness`` against the label's side), confidence AUROC of true vs
  false detections.

:func:`label_depth_offsets` checks the labels against the depth (``labels_vs_depth``: how far behind
the observed surface each joint lies). :func:`localizer_candidates` lists, per frame, every candidate
of the node's localiser (no score threshold, no cap) with its score and its distance to the labelled
hand, and :func:`summarize_candidates` says where the hand ranks. All lengths in mm, camera frame.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Optional, Sequence

import numpy as np
import torch

from .. import joints as _joints
from ..hand import HANDEDNESS_LEFT, HANDEDNESS_RIGHT, HANDEDNESS_UNKNOWN
from ..preprocessing.labels import HIDDEN_MAX_SEEN, SEEN_DZ_MM  # seen: the surface at most SEEN_DZ_MM in front
from .matching import MATCH_MM, match_centres
from .metrics import auroc, pck, summarize

__all__ = ["RealEvalConfig", "mean_training_pose", "pose_metrics", "hand_size", "jitter_mm", "frame_order",
           "evaluate_real", "localizer_candidates", "label_depth_offsets", "summarize_candidates", "markdown_table",
           "PCK_THRESHOLDS_MM", "MATCH_MM", "MEAN_POSE_FRAMES", "error_by_seen", "kept_fractions", "SEEN_BINS"]

#: A detection within MATCH_MM (crop centre ↔ GT joint mean, evaluation.matching) is the labelled hand.
PCK_THRESHOLDS_MM = (20.0, 40.0)
#: Confidence thresholds of the node protocol's trade-off table (finer near 1, where published confidences
#: of true and false hands differ: e.g. 0.81 vs 0.90 on the F-PHAB sample, docs/real_frames.md).
TRADEOFF_THRESHOLDS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)
#: Frames of the synthetic training stream averaged by :func:`mean_training_pose` (~1.3 hands each).
MEAN_POSE_FRAMES = 1024
_HANDEDNESS_NAMES = {HANDEDNESS_UNKNOWN: "unknown", HANDEDNESS_LEFT: "left", HANDEDNESS_RIGHT: "right"}


@dataclass
class RealEvalConfig:
    protocols: tuple[str, ...] = ("gt_crops", "node")
    match_mm: float = MATCH_MM
    pck_mm: tuple[float, ...] = PCK_THRESHOLDS_MM
    max_frames: int = 0  # 0 = every frame of the reader
    mean_pose_frames: int = MEAN_POSE_FRAMES
    #: also list every localiser candidate per frame (:func:`localizer_candidates`)
    candidates: bool = False
    #: feed the network black colour images (what training's ``rgb_drop`` shows it): what colour contributes
    blank_colour: bool = False
    #: with the ``gt_crops`` protocol, also crop every labelled hand this far (mm) from its GT centre along
    #: ±x, ±y, ±z and measure how much of the offset the network undoes (:func:`offset_probe_result`); 0 = off
    offset_probe_mm: float = 0.0


# ---------------------------------------------------------------------------------------------
# joint order
# ---------------------------------------------------------------------------------------------

def network_joint_names() -> tuple[str, ...]:
    """Names of the network's joint order (readers, renderer and evaluation use it)."""
    return tuple(getattr(_joints, "NETWORK_JOINT_NAMES", _joints.JOINT_NAMES))


def _estimate_to_network() -> np.ndarray:
    """Index taking ``HandEstimate.joints_m`` (documented as :data:`kpfusion_ros.joints.JOINT_NAMES`
    order) to the network order, by joint name (identity while both orders are the same)."""
    pub = list(_joints.JOINT_NAMES)
    return np.array([pub.index(n) for n in network_joint_names()], dtype=np.int64)


def _idx(name: str) -> int:
    return network_joint_names().index(name)


def _fingers() -> dict[str, list[int]]:
    """Network joint indices per finger (the wrist on its own)."""
    out: dict[str, list[int]] = {}
    for k, n in enumerate(network_joint_names()):
        out.setdefault("wrist" if n == "wrist" else n.split("_")[0], []).append(k)
    return out


# ---------------------------------------------------------------------------------------------
# baselines and metrics
# ---------------------------------------------------------------------------------------------

def training_labels(num_frames: int = MEAN_POSE_FRAMES, seed: Optional[int] = None,
                    width: Optional[int] = None, height: Optional[int] = None, chunk: int = 64) -> np.ndarray:
    """Training labels: K×21×3 mm, network order, each hand relative to its joint mean (the crop centre).

    The labels of frames 0..``num_frames``−1 of the synthetic training stream (``seed``, size and
    scene distribution: :class:`~kpfusion_ros.training.data.DataConfig`'s defaults), every hand as
    the network is trained on it: left hands mirrored like their crops
    (:func:`~kpfusion_ros.geometry.mirror_points_mm`), minus the joint mean. Deterministic (the
    renderer is a pure function of seed and index) and cache-free; only the labels are needed, so
    each frame's scene is rendered through a 1×1-pixel window.
    """
    from ..data.synthetic import render_batch
    from ..geometry import mirror_points_mm
    from ..training.data import DataConfig

    dc = DataConfig()
    dc = replace(dc, width=width or dc.width, height=height or dc.height)
    seed = dc.seed if seed is None else int(seed)
    syn = replace(dc.synthetic(), roi=(0, 0, 1, 1))
    hands = []
    for s in range(0, int(num_frames), chunk):
        fb = render_batch(seed, range(s, min(s + chunk, int(num_frames))), syn)
        valid = fb.hand_valid
        j = fb.joints_mm[valid].double()                                    # K×21×3
        cam = fb.cam.double().unsqueeze(1).expand(-1, valid.shape[1], -1)[valid]  # K×4 (window at 0, 0)
        right = fb.is_right[valid]
        j = torch.where(right.view(-1, 1, 1), j, mirror_points_mm(j, cam, dc.width))
        hands.append(j - j.mean(1, keepdim=True))
    if not hands or not sum(len(h) for h in hands):
        raise ValueError("training_labels: the sampled frames hold no hand")
    return torch.cat(hands).numpy()


def mean_training_pose(num_frames: int = MEAN_POSE_FRAMES, seed: Optional[int] = None,
                       width: Optional[int] = None, height: Optional[int] = None, chunk: int = 64,
                       labels: Optional[np.ndarray] = None) -> np.ndarray:
    """Mean training label: 21×3 mm, network order, relative to the joint mean: the mean over hands of
    :func:`training_labels` (or of ``labels``, its output, when given)."""
    if labels is None:
        labels = training_labels(num_frames, seed, width, height, chunk)
    return np.asarray(labels, dtype=np.float64).mean(0)


def skeleton_floor(gt_mm: np.ndarray, training: np.ndarray) -> dict:
    """What the skeleton convention alone costs: the labels' own pose rebuilt with the training skeleton's
    proportions, scored against the labels.

    Every labelled hand keeps each bone's direction (:func:`~kpfusion_ros.joints.with_bone_lengths`); its
    bone lengths become the training labels' median lengths (``training``: :func:`training_labels`), scaled
    so that their sum equals the hand's own summed bone length; the result is re-centred on the labels'
    joint mean, as a network's GT-centred prediction is. A network that knew the pose perfectly but drew it
    with the training skeleton would score this; a dataset whose joints are placed differently from the
    renderer's (F-PHAB's thumb base, its palm) gets a floor above zero.
    """
    gt = np.asarray(gt_mm, dtype=np.float64).reshape(-1, 21, 3)
    ref = np.median(_joints.bone_lengths(training), axis=0)
    own = _joints.bone_lengths(gt).sum(-1, keepdims=True)
    rebuilt = _joints.with_bone_lengths(gt, ref[None] * own / ref.sum())
    rebuilt += gt.mean(1, keepdims=True) - rebuilt.mean(1, keepdims=True)
    return pose_metrics(rebuilt, gt)


def bone_length_medians(joints_mm: np.ndarray) -> dict:
    """Median length (mm) of every bone over hands, named ``parent→child`` (network order)."""
    j = np.asarray(joints_mm, dtype=np.float64).reshape(-1, 21, 3)
    if not len(j):
        return {}
    names = network_joint_names()
    med = np.median(_joints.bone_lengths(j), axis=0)
    return {f"{names[p]}→{names[c]}": float(v) for (p, c), v in zip(_joints.NETWORK_BONES, med)}


def pose_metrics(pred_mm: np.ndarray, gt_mm: np.ndarray, pck_mm: Sequence[float] = PCK_THRESHOLDS_MM) -> dict:
    """MPJPE, PA-MPJPE, AUC (0–50 mm), PCK at ``pck_mm`` and per-finger MPJPE of K×21×3 poses (mm)."""
    p = torch.as_tensor(np.asarray(pred_mm, dtype=np.float64).reshape(-1, 21, 3))
    g = torch.as_tensor(np.asarray(gt_mm, dtype=np.float64).reshape(-1, 21, 3))
    s = summarize(p, g)
    err = (p - g).norm(dim=-1)
    out = {"count": s["count"], "mpjpe_mm": s["mpjpe_mm"], "pa_mpjpe_mm": s["pa_mpjpe_mm"], "auc_0_50": s["auc_0_50"]}
    for t in pck_mm:
        out[f"pck_{t:g}mm"] = pck(err, t)
    out["per_finger_mpjpe_mm"] = {f: (float(err[:, idx].mean()) if err.numel() else float("nan"))
                                  for f, idx in _fingers().items()}
    out["per_joint_mpjpe_mm"] = dict(zip(network_joint_names(), s["per_joint_mpjpe_mm"])) if err.numel() else {}
    return out


def hand_size(joints_mm: np.ndarray) -> dict:
    """Median and mean over hands of the wrist → middle-tip length, the mean joint-to-centre distance (both
    shrink as the fingers flex) and the summed length of the 20 bones (it does not)."""
    j = np.asarray(joints_mm, dtype=np.float64).reshape(-1, 21, 3)
    if not len(j):
        return {}
    w2m = np.linalg.norm(j[:, _idx("middle_tip")] - j[:, _idx("wrist")], axis=-1)
    spread = np.linalg.norm(j - j.mean(1, keepdims=True), axis=-1).mean(1)
    bones = _joints.bone_lengths(j).sum(-1)
    return {"wrist_to_middle_tip_mm": {"median": float(np.median(w2m)), "mean": float(w2m.mean())},
            "joint_to_centre_mm": {"median": float(np.median(spread)), "mean": float(spread.mean())},
            "bone_length_sum_mm": {"median": float(np.median(bones)), "mean": float(bones.mean())}}


def jitter_mm(joints_mm: np.ndarray, sequences: Sequence, frames: Sequence[int]) -> dict:
    """Frame-to-frame motion: the mean joint displacement between consecutive frames (same sequence,
    frame numbers differing by 1), mean and median over those pairs."""
    j = np.asarray(joints_mm, dtype=np.float64).reshape(-1, 21, 3)
    seq = list(sequences)
    fr = np.asarray(frames)
    pairs = [k for k in range(1, len(j)) if seq[k] == seq[k - 1] and fr[k] - fr[k - 1] == 1]
    if not pairs:
        return {"pairs": 0, "mean": float("nan"), "median": float("nan")}
    k = np.asarray(pairs)
    d = np.linalg.norm(j[k] - j[k - 1], axis=-1).mean(1)
    return {"pairs": int(len(k)), "mean": float(d.mean()), "median": float(np.median(d))}


def _stats(x) -> dict:
    a = np.asarray(x, dtype=np.float64)
    if not a.size:
        return {"count": 0, "median": float("nan"), "p90": float("nan"), "mean": float("nan")}
    return {"count": int(a.size), "median": float(np.median(a)), "p90": float(np.percentile(a, 90)),
            "mean": float(a.mean())}


# ---------------------------------------------------------------------------------------------
# frames
# ---------------------------------------------------------------------------------------------

def frame_order(reader) -> list[tuple[str, list[int]]]:
    """[(sequence, reader indices in frame order)]: the reader's ``sequence_indices()`` when it has one,
    else grouped by ``sample_info(i)['sequence']`` in index order, else one sequence."""
    if hasattr(reader, "sequence_indices"):
        return list(reader.sequence_indices().items())
    groups: dict[str, list[int]] = {}
    for i in range(len(reader)):
        info = reader.sample_info(i) if hasattr(reader, "sample_info") else {}
        key = str(info.get("sequence", "")) + ("/" + str(info["serial"]) if "serial" in info else "")
        groups.setdefault(key, []).append(i)
    return list(groups.items())


def _frame_number(reader, i: int, frame) -> int:
    info = reader.sample_info(i) if hasattr(reader, "sample_info") else {}
    if "frame" in info and str(info["frame"]).isdigit():
        return int(info["frame"])
    return int(round(frame.stamp * 30.0))


def _labelled(frame) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(K×21×3 GT joints mm, K×3 joint means, sides) of the frame's fully labelled hands."""
    j = np.asarray(frame.joints_mm, dtype=np.float64).reshape(-1, 21, 3)
    ok = np.isfinite(j).all(axis=(1, 2))
    return j[ok], j[ok].mean(1), [frame.handedness[k] for k in np.flatnonzero(ok)]


def label_depth_offsets(joints_mm: np.ndarray, depth_mm: np.ndarray, cam) -> np.ndarray:
    """K×21 ``z_label − z_depth`` (mm) at each joint's nearest pixel; NaN where the pixel has no depth or
    lies outside the image. Positive: the observed surface is in front of the joint (a joint centre
    lies inside the hand, so a few mm to ~20 mm is expected; more where something hides the joint)."""
    j = np.asarray(joints_mm, dtype=np.float64).reshape(-1, 21, 3)
    fx, fy, cx, cy = (float(v) for v in np.asarray(cam, dtype=np.float64).reshape(-1)[:4])
    H, W = depth_mm.shape[:2]
    with np.errstate(divide="ignore", invalid="ignore"):
        u = np.rint(j[..., 0] * fx / j[..., 2] + cx)
        v = np.rint(j[..., 1] * fy / j[..., 2] + cy)
    inside = np.isfinite(u) & np.isfinite(v) & (u >= 0) & (u < W) & (v >= 0) & (v < H) & (j[..., 2] > 0)
    z = np.zeros(u.shape)
    z[inside] = np.asarray(depth_mm, dtype=np.float64)[v[inside].astype(int), u[inside].astype(int)]
    return np.where(inside & (z > 0), j[..., 2] - z, np.nan)


def seen_from_offsets(dz: np.ndarray) -> np.ndarray:
    """Seen joints per hand (K, int) from :func:`label_depth_offsets`' K×21 offsets: with depth, and the surface at
    most :data:`~kpfusion_ros.preprocessing.SEEN_DZ_MM` in front of the joint (no depth = not seen)."""
    d = np.asarray(dz, dtype=np.float64).reshape(-1, 21)
    return (np.isfinite(d) & (np.nan_to_num(d, nan=np.inf) <= SEEN_DZ_MM)).sum(1)


def _label_depth_result(dz: list) -> dict:
    # one K×21 array per frame, K (labelled hands) may differ between frames
    d = np.concatenate([np.asarray(x, dtype=np.float64).reshape(-1, 21) for x in dz]) if dz else np.zeros((0, 21))
    ok = np.isfinite(d)
    if not ok.any():
        return {"joints_with_depth": 0}
    with np.errstate(all="ignore"):
        per = np.nanmedian(np.where(ok, d, np.nan), axis=0)
    seen = seen_from_offsets(d)
    return {"joints_with_depth": int(ok.sum()), "joints": int(d.size), "median_dz_mm": float(np.median(d[ok])),
            "median_abs_dz_mm": float(np.median(np.abs(d[ok]))),
            "fraction_in_front_of_surface": float((d[ok] < 0).mean()),
            "seen_joints": {"dz_max_mm": SEEN_DZ_MM, "per_hand_median": float(np.median(seen)),
                            "per_hand_mean": float(seen.mean()), "share_of_hands_with_6_or_fewer": float((seen <= HIDDEN_MAX_SEEN).mean())},
            "per_joint_median_dz_mm": {n: (float(x) if np.isfinite(x) else float("nan"))
                                       for n, x in zip(network_joint_names(), per)}}


# ---------------------------------------------------------------------------------------------
# the evaluation
# ---------------------------------------------------------------------------------------------

def localizer_candidates(localizer_config, depth_mm: np.ndarray, cam, gt_centres: np.ndarray,
                         match_mm: float = MATCH_MM) -> list[dict]:
    """Every candidate of the localiser (``min_score`` 0, no cap), best first, with its distance to the
    nearest labelled hand's joint mean and whether it is that hand (≤ ``match_mm``)."""
    from ..localization import HandLocalizer

    loc = HandLocalizer(replace(localizer_config, min_score=0.0, max_hands=10_000))
    out = []
    for rank, c in enumerate(loc.localize(depth_mm, cam)):
        d = np.linalg.norm(gt_centres - c.centre_mm, axis=1) if len(gt_centres) else np.zeros(0)
        dist = float(d.min()) if d.size else float("nan")
        out.append({"rank": rank + 1, "score": float(c.score), "centre_mm": [float(v) for v in c.centre_mm],
                    "bbox": [int(v) for v in c.bbox], "mean_depth_mm": float(c.mean_depth_mm),
                    "area_cm2": float(c.area_cm2), "pixels": int(c.pixel_count), "gt_distance_mm": dist,
                    "is_labelled_hand": bool(d.size and dist <= match_mm)})
    return out


def summarize_candidates(per_frame: list[dict], min_score: float) -> dict:
    """Where the labelled hand ranks among the localiser's candidates, and what beats it."""
    ranks, hand_scores, hand_err, win_scores, win_depth, win_area, n_above = [], [], [], [], [], [], []
    present = 0
    for fr in per_frame:
        cands = fr["candidates"]
        hand = [c for c in cands if c["is_labelled_hand"]]
        if hand:
            present += 1
            best = min(hand, key=lambda c: c["gt_distance_mm"])
            ranks.append(best["rank"])
            hand_scores.append(best["score"])
            hand_err.append(best["gt_distance_mm"])
            n_above.append(sum(1 for c in cands if c["score"] > best["score"] and not c["is_labelled_hand"]))
        others = [c for c in cands if not c["is_labelled_hand"]]
        if others:
            w = others[0]
            win_scores.append(w["score"])
            win_depth.append(w["mean_depth_mm"])
            win_area.append(w["area_cm2"])
    r = np.asarray(ranks)
    return {
        "frames": len(per_frame), "hand_among_candidates": present,
        "hand_rank": {"median": float(np.median(r)) if r.size else float("nan"),
                      "min": int(r.min()) if r.size else None, "max": int(r.max()) if r.size else None,
                      "rank_1_frames": int((r == 1).sum()), "rank_le_2_frames": int((r <= 2).sum())},
        "hand_score": _stats(hand_scores), "hand_centre_error_mm": _stats(hand_err),
        "hand_score_below_min_score_frames": int(sum(s < min_score for s in hand_scores)),
        "other_candidates_scoring_above_hand": _stats(n_above),
        "best_other_candidate": {"score": _stats(win_scores), "mean_depth_mm": _stats(win_depth),
                                 "area_cm2": _stats(win_area)},
        "min_score": float(min_score),
    }


@torch.inference_mode()
def evaluate_real(reader, pipeline_config, cfg: RealEvalConfig = RealEvalConfig(), progress: bool = False,
                  model=None, model_cfg=None) -> dict:
    """Both protocols (``cfg.protocols``) over ``reader``'s frames in sequence order (see module docstring).

    ``pipeline_config``: a :class:`~kpfusion_ros.pipeline.PipelineConfig` (the node's:
    ``pipeline_config(NodeConfig())``); ``model``/``model_cfg`` override its model. Returns a
    JSON-ready dict; with ``cfg.candidates`` it holds ``candidates`` (per frame, see
    :func:`localizer_candidates`) beside ``localizer_candidates`` (their summary).
    """
    from ..pipeline import HandPosePipeline

    unknown = set(cfg.protocols) - {"gt_crops", "node"}
    if unknown:
        raise ValueError(f"unknown protocols {sorted(unknown)} (gt_crops, node)")
    node = HandPosePipeline(pipeline_config, model=model, model_cfg=model_cfg)
    crops = HandPosePipeline(pipeline_config, model=node.model, model_cfg=node.model_cfg)  # same weights
    crops.model_description = node.model_description
    to_net = _estimate_to_network()
    order = frame_order(reader)
    todo = [(s, i) for s, idx in order for i in idx]
    if cfg.max_frames > 0:
        todo = todo[: cfg.max_frames]
    training = training_labels(cfg.mean_pose_frames) if "gt_crops" in cfg.protocols else None

    gc = {"pred": [], "gt": [], "seq": [], "frame": [], "conf": [], "probe": [], "seen": []}
    nd = {"found": 0, "hands": 0, "elsewhere": 0, "centre_err": [], "mean_err": [], "pred": [], "gt": [],
          "true_conf": [], "false_conf": [], "true_parts": [], "false_parts": [], "handedness": [], "label_side": [],
          "false": [], "identity": []}
    per_frame_cands: list[dict] = []
    label_dz: list = []
    it = todo
    if progress:
        from tqdm import tqdm
        it = tqdm(todo, desc="real frames", unit="frame", dynamic_ncols=True)
    last_seq = None
    for seq, i in it:
        frame = reader[i]
        gt_j, gt_c, sides = _labelled(frame)
        depth = np.asarray(frame.depth, dtype=np.float32)
        color = np.zeros_like(frame.color) if cfg.blank_colour else frame.color
        fno = _frame_number(reader, i, frame)
        if len(gt_j):
            label_dz.append(label_depth_offsets(gt_j, depth, frame.cam))
            gc["seen"].extend(int(n) for n in seen_from_offsets(label_dz[-1]))
        if "gt_crops" in cfg.protocols and len(gt_j):
            left = np.array([side == "left" for side in sides], dtype=bool)  # mirrored, as in training
            joints_m, _, _, overall, _ = crops.estimate(color, depth, frame.cam, gt_c, left)
            for k in range(len(gt_j)):
                gc["pred"].append(joints_m[k] * 1000.0)
                gc["gt"].append(gt_j[k])
                gc["seq"].append(f"{seq}#{k}")
                gc["frame"].append(fno)
                gc["conf"].append(float(overall[k]))
            if cfg.offset_probe_mm > 0:
                probe = np.concatenate([gt_c + o for o in probe_offsets(cfg.offset_probe_mm)])
                pj = crops.estimate(color, depth, frame.cam, probe, np.tile(left, 6))[0] * 1000.0  # (6·n)×21×3
                gc["probe"].append(pj.reshape(6, len(gt_j), 21, 3))
        if "node" in cfg.protocols:
            if seq != last_seq:
                node.reset()
            res = node.process(color, depth, frame.cam, stamp=float(frame.stamp))
            nd["hands"] += len(gt_j)
            centres = np.array([h.center_m * 1000.0 for h in res.hands]).reshape(-1, 3)
            pairs = match_centres(gt_c, centres, cfg.match_mm)
            matched = {p[1] for p in pairs}
            for g, d, dist in pairs:
                h = res.hands[d]
                pred = np.asarray(h.joints_m, dtype=np.float64)[to_net] * 1000.0
                nd["found"] += 1
                nd["centre_err"].append(dist)
                nd["mean_err"].append(float(np.linalg.norm(np.nanmean(pred, 0) - gt_c[g])))
                nd["pred"].append(pred)
                nd["gt"].append(gt_j[g])
                nd["true_conf"].append(float(h.confidence))
                nd["true_parts"].append(_confidence_parts(h))
                nd["handedness"].append(int(h.handedness))
                nd["label_side"].append(sides[g])
                nd["identity"].append((seq, fno, int(h.track_id), sides[g] or str(g)))
            for d, h in enumerate(res.hands):
                if d in matched:
                    continue
                nd["elsewhere"] += 1
                nd["false_conf"].append(float(h.confidence))
                nd["false_parts"].append(_confidence_parts(h))
                dist = float(np.linalg.norm(gt_c - centres[d], axis=1).min()) if len(gt_c) else float("nan")
                nd["false"].append({"sequence": seq, "frame": fno, "centre_mm": [float(v) for v in centres[d]],
                                    "gt_distance_mm": dist, "confidence": float(h.confidence)})
        if cfg.candidates:
            per_frame_cands.append({"sequence": seq, "frame": fno, "index": int(i),
                                    "gt_centre_mm": [[float(v) for v in c] for c in gt_c],
                                    "candidates": localizer_candidates(node.localizer.config, depth, frame.cam,
                                                                       gt_c, cfg.match_mm)})
        last_seq = seq

    out: dict = {"frames": len(todo), "sequences": len({s for s, _ in todo}), "model": node.model_description,
                 "untrained_model": bool(node.untrained), "match_mm": cfg.match_mm,
                 "colour": "blanked" if cfg.blank_colour else "as recorded",
                 "labels_vs_depth": _label_depth_result(label_dz)}
    if "gt_crops" in cfg.protocols:
        out["gt_crops"] = _gt_crops_result(gc, training, cfg)
    if "node" in cfg.protocols:
        out["node"] = _node_result(nd, cfg, pipeline_config)
    if cfg.candidates:
        out["localizer_candidates"] = summarize_candidates(per_frame_cands, node.localizer.config.min_score)
        out["candidates"] = per_frame_cands
    return out


def probe_offsets(offset_mm: float) -> np.ndarray:
    """The six crop-centre offsets of the offset probe (6×3 mm): +x, −x, +y, −y, +z, −z."""
    return float(offset_mm) * np.concatenate([np.eye(3), -np.eye(3)])[[0, 3, 1, 4, 2, 5]]


PROBE_NAMES = ("+x", "-x", "+y", "-y", "+z", "-z")


def offset_probe_result(pred_by_offset: np.ndarray, gt_mm: np.ndarray, offset_mm: float) -> dict:
    """How far the network follows a crop centre that is off: ``pred_by_offset`` 6×K×21×3 mm, the poses of
    K labelled hands from crops at their GT joint mean + each of :func:`probe_offsets`; ``gt_mm`` K×21×3.

    Per offset: ``kept_fraction``, the mean over hands of the predicted joint mean's displacement from the GT
    joint mean along the offset, divided by the offset (1: the pose moved with the crop; 0: the network put
    the hand back where it is), and the MPJPE. ``kept_fraction_mean`` averages the six, which cancels a
    constant bias of the predicted centre. Since the node re-centres each crop on the last predicted joint
    mean (``refine_iterations``), a fraction f leaves f^(n+1) of an initial centre error after n re-crops.
    """
    gt = np.asarray(gt_mm, dtype=np.float64).reshape(-1, 21, 3)
    pred = np.asarray(pred_by_offset, dtype=np.float64).reshape(6, -1, 21, 3)
    out: dict = {"offset_mm": float(offset_mm), "hands": int(len(gt)), "offsets": {}}
    if not len(gt):
        return out
    kept = kept_fractions(pred, gt, offset_mm)                          # 6×K
    for k, name in enumerate(PROBE_NAMES):
        out["offsets"][name] = {"kept_fraction": float(kept[k].mean()),
                                "mpjpe_mm": float(np.linalg.norm(pred[k] - gt, axis=-1).mean())}
    out["kept_fraction_mean"] = float(np.mean([v["kept_fraction"] for v in out["offsets"].values()]))
    out["mpjpe_mm_mean"] = float(np.mean([v["mpjpe_mm"] for v in out["offsets"].values()]))
    return out


def kept_fractions(pred_by_offset: np.ndarray, gt_mm: np.ndarray, offset_mm: float) -> np.ndarray:
    """6×K: per probe offset and hand, the predicted joint mean's displacement from the GT joint mean along the
    offset, divided by the offset (``pred_by_offset`` 6×K×21×3 mm from :func:`probe_offsets`' crops)."""
    gt = np.asarray(gt_mm, dtype=np.float64).reshape(-1, 21, 3)
    pred = np.asarray(pred_by_offset, dtype=np.float64).reshape(6, -1, 21, 3)
    offs = probe_offsets(offset_mm)
    d = pred.mean(2) - gt.mean(1)[None]                                  # 6×K×3
    return np.einsum("khc,kc->kh", d, offs / np.linalg.norm(offs, axis=1, keepdims=True)) / float(offset_mm)


#: Bins of joints seen per hand (inclusive) for :func:`error_by_seen` (docs/results/seen_joints_2026-12-04/).
SEEN_BINS = ((0, 3), (4, 6), (7, 9), (10, 13), (14, 21))


def error_by_seen(pred_mm: np.ndarray, gt_mm: np.ndarray, seen: np.ndarray, kept: Optional[np.ndarray] = None) -> dict:
    """GT-crop MPJPE per hand binned by joints seen (:func:`seen_from_offsets`, bins :data:`SEEN_BINS`), pooled over
    the hidden hands (≤ :data:`~kpfusion_ros.preprocessing.HIDDEN_MAX_SEEN` seen) and over all; with ``kept``
    (K: each hand's offset-probe kept fraction, the mean of :func:`kept_fractions` over the six offsets) its mean
    per bin too. How much worse the network is where the frame hides the hand, on any dataset."""
    pred = np.asarray(pred_mm, dtype=np.float64).reshape(-1, 21, 3)
    gt = np.asarray(gt_mm, dtype=np.float64).reshape(-1, 21, 3)
    seen = np.asarray(seen, dtype=np.int64).reshape(-1)
    if not len(pred) == len(gt) == len(seen) or (kept is not None and len(kept) != len(seen)):
        raise ValueError(f"{len(pred)} predictions, {len(gt)} labels, {len(seen)} seen counts"
                         + ("" if kept is None else f", {len(kept)} kept fractions"))
    err = np.linalg.norm(pred - gt, axis=-1).mean(1)                   # K

    def group(mask: np.ndarray) -> dict:
        g = {"hands": int(mask.sum()), "mpjpe_mm": float(err[mask].mean()) if mask.any() else None}
        if kept is not None:
            g["kept_fraction"] = float(np.asarray(kept)[mask].mean()) if mask.any() else None
        return g

    return {"bins": {f"{lo}-{hi}": group((seen >= lo) & (seen <= hi)) for lo, hi in SEEN_BINS},
            "hidden": {"max_seen": HIDDEN_MAX_SEEN, **group(seen <= HIDDEN_MAX_SEEN)},
            "all": group(np.ones(len(seen), dtype=bool))}


def _gt_crops_result(gc: dict, training: np.ndarray, cfg: RealEvalConfig) -> dict:
    mean_pose = mean_training_pose(labels=training)
    gt = np.asarray(gc["gt"], dtype=np.float64).reshape(-1, 21, 3)
    pred = np.asarray(gc["pred"], dtype=np.float64).reshape(-1, 21, 3)
    centre = gt.mean(1, keepdims=True)
    base_mean = centre + mean_pose[None]
    base_centre = np.repeat(centre, 21, axis=1)
    probe = np.concatenate(gc["probe"], axis=1) if gc["probe"] else None
    return {
        "protocol": "gt_crops", "hands": int(len(gt)),
        "network": pose_metrics(pred, gt, cfg.pck_mm),
        "baseline_mean_training_pose": pose_metrics(base_mean, gt, cfg.pck_mm),
        "baseline_all_joints_at_centre": pose_metrics(base_centre, gt, cfg.pck_mm),
        "skeleton_floor": skeleton_floor(gt, training) if len(gt) else {},
        "hand_size": {"predicted": hand_size(pred), "labels": hand_size(gt),
                      "mean_training_pose": hand_size(mean_pose[None]), "training_labels": hand_size(training)},
        "bone_lengths_mm": {"predicted": bone_length_medians(pred), "labels": bone_length_medians(gt),
                            "training_labels": bone_length_medians(training)},
        # absolute motion (the hand's own motion included), the change of the centre-relative pose, and
        # the change of the error (prediction − label: what the network adds to the true motion)
        "jitter_mm": {"predicted": jitter_mm(pred, gc["seq"], gc["frame"]),
                      "labels": jitter_mm(gt, gc["seq"], gc["frame"]),
                      "predicted_centre_relative": jitter_mm(pred - pred.mean(1, keepdims=True), gc["seq"],
                                                             gc["frame"]),
                      "labels_centre_relative": jitter_mm(gt - centre, gc["seq"], gc["frame"]),
                      "error": jitter_mm(pred - gt, gc["seq"], gc["frame"])},
        "confidence": _stats(gc["conf"]),
        "mean_training_pose_frames": int(cfg.mean_pose_frames),
        **({"offset_probe": offset_probe_result(probe, gt, cfg.offset_probe_mm)} if probe is not None else {}),
        "by_seen_joints": error_by_seen(pred, gt, gc["seen"],
                                        None if probe is None else kept_fractions(probe, gt, cfg.offset_probe_mm).mean(0)),
    }


def detection_f1(found: int, elsewhere: int, labelled: int) -> float:
    """F1 of published hands against labelled ones: 2·found / (2·found + elsewhere + missed labelled hands)."""
    den = 2 * found + elsewhere + (labelled - found)
    return 2.0 * found / den if den > 0 else float("nan")


def _tradeoff_row(t: float, nd: dict) -> dict:
    found = int(sum(c >= t for c in nd["true_conf"]))
    elsewhere = int(sum(c >= t for c in nd["false_conf"]))
    return {"min_hand_confidence": t, "found": found, "detections_elsewhere": elsewhere,
            "f1": detection_f1(found, elsewhere, nd["hands"])}


def _confidence_parts(hand) -> list:
    """[hand score, pose confidence, published confidence, centre score] of a published hand: the inputs of
    :func:`~kpfusion_ros.tracking.overall_confidence` (None where missing) and its output, so that another
    weighting can be scored on the same run."""
    hs = hand.hand_score
    pc = (hand.extras or {}).get("pose_confidence")
    cs = (hand.extras or {}).get("centre_score")
    f = lambda x: None if x is None or not np.isfinite(x) else float(x)  # noqa: E731
    return [f(hs), f(pc), float(hand.confidence), f(cs)]


def identity_switches(found: list) -> dict:
    """Identity switches of published tracks: ``found`` holds (sequence, frame, track id, labelled hand) per found
    hand in frame order. A switch is a found hand whose labelled hand differs from the one its track was last
    found on (a track id counts within its sequence). Only published, found hands are seen: a track that is
    pulled onto the other hand while not published, or whose hand is then missed, is not counted here."""
    last: dict = {}
    switches = []
    for seq, frame, tid, label in found:
        key = (seq, tid)
        if key in last and last[key] != label:
            switches.append({"sequence": seq, "frame": frame, "track_id": tid, "from": last[key], "to": label})
        last[key] = label
    return {"count": len(switches), "tracks": len(last), "list": switches}


def _node_result(nd: dict, cfg: RealEvalConfig, pipeline_config) -> dict:
    gt = np.asarray(nd["gt"], dtype=np.float64).reshape(-1, 21, 3)
    pred = np.asarray(nd["pred"], dtype=np.float64).reshape(-1, 21, 3)
    hs = nd["handedness"]
    correct = [(_HANDEDNESS_NAMES.get(h) == side) for h, side in zip(hs, nd["label_side"])]
    counts = {name: int(sum(1 for h in hs if h == v)) for v, name in _HANDEDNESS_NAMES.items()}
    decided = [c for h, c in zip(hs, correct) if _HANDEDNESS_NAMES.get(h) in ("left", "right")]  # LEFT/RIGHT published
    return {
        "protocol": "node", "labelled_hands": nd["hands"], "found": nd["found"],
        "detection_rate": nd["found"] / nd["hands"] if nd["hands"] else float("nan"),
        "detections_elsewhere": nd["elsewhere"],
        "detections_elsewhere_note": "published hands farther than match_mm from every labelled hand; a visible "
                                     "unlabelled hand (F-PHAB labels only the right hand) counts here too",
        "centre_error_mm": _stats(nd["centre_err"]),
        "predicted_joint_mean_error_mm": _stats(nd["mean_err"]),
        "pose": pose_metrics(pred, gt, cfg.pck_mm),
        "hand_size": {"predicted": hand_size(pred), "labels": hand_size(gt)},
        "identity_switches": identity_switches(nd["identity"]),
        "handedness": {"accuracy": float(np.mean(correct)) if correct else float("nan"), "counts": counts,
                       "correct": int(sum(correct)), "decided": len(decided),
                       "accuracy_of_decided": float(np.mean(decided)) if decided else float("nan")},
        "confidence": {"true": _stats(nd["true_conf"]), "false": _stats(nd["false_conf"]),
                       "auroc_true_vs_false": auroc(nd["true_conf"], nd["false_conf"]),
                       # the published hands a threshold on their confidence keeps (of this run's: rows below
                       # the run's min_hand_confidence equal that row)
                       "tradeoff": [_tradeoff_row(t, nd) for t in TRADEOFF_THRESHOLDS],
                       # per published hand, [hand score, pose confidence, confidence, centre score]
                       # (overall_confidence's inputs and output)
                       "parts": {"true": nd["true_parts"], "false": nd["false_parts"],
                                 "pose_confidence_weight": pipeline_config.tracker.pose_confidence_weight,
                                 "centre_score_weight": pipeline_config.tracker.centre_score_weight}},
        "detections_elsewhere_depth_mm": _stats([d["centre_mm"][2] for d in nd["false"]]),
        "detections_elsewhere_list": nd["false"],
        "pipeline": {"max_range_mm": pipeline_config.localizer.max_range_mm,
                     "min_range_mm": pipeline_config.localizer.min_range_mm,
                     "min_hand_score": pipeline_config.localizer.min_score,
                     "min_hand_confidence": pipeline_config.tracker.min_hand_confidence,
                     "min_handedness_confidence": pipeline_config.tracker.min_handedness_confidence,
                     "verifier_path": pipeline_config.localizer.verifier_path,
                     "refine_iterations": pipeline_config.refine_iterations,
                     "centre_score_weight": pipeline_config.tracker.centre_score_weight,
                     "side_source": pipeline_config.tracker.side_source,
                     "min_side_estimates": pipeline_config.tracker.min_side_estimates,
                     "side_window": pipeline_config.tracker.side_window,
                     "crop_side": pipeline_config.tracker.crop_side,
                     "merge_keeps": pipeline_config.tracker.merge_keeps,
                     "side_retest_every": pipeline_config.side_test.retest_every,
                     "side_gain": pipeline_config.side_test.gain,
                     "side_size_gain": pipeline_config.side_test.size_gain,
                     "max_hands": pipeline_config.localizer.max_hands},
    }


def _f(x, nd: int = 1) -> str:
    return "–" if x is None or (isinstance(x, float) and not math.isfinite(x)) else f"{x:.{nd}f}"


def markdown_table(res: dict) -> str:
    """The headline numbers of :func:`evaluate_real` as Markdown."""
    lines = []
    if res.get("colour") == "blanked":
        lines += ["Colour blanked: the network saw black colour images (depth alone carries the pose).", ""]
    ld = res.get("labels_vs_depth", {})
    if ld.get("joints_with_depth"):
        lines += [f"Labels vs depth: the observed surface lies a median {_f(ld['median_dz_mm'])} mm in front of the "
                  f"labelled joints at their pixels ({ld['joints_with_depth']}/{ld['joints']} joints with depth, "
                  f"{_f(100 * ld['fraction_in_front_of_surface'])} % of them in front of the surface).", ""]
        sj = ld.get("seen_joints")
        if sj:
            lines += [f"Joints seen (the surface at most {_f(sj['dz_max_mm'], 0)} mm in front): a median {_f(sj['per_hand_median'])} "
                      f"of 21 per hand; {_f(100 * sj['share_of_hands_with_6_or_fewer'])} % of the hands show 6 or fewer.", ""]
    if "gt_crops" in res:
        g = res["gt_crops"]
        pk = [k for k in g["network"] if k.startswith("pck_")]
        pck_cols = " | ".join(k.replace("pck_", "PCK@") for k in pk)
        lines += [f"GT-centred crops, {g['hands']} hands",
                  "", "| poses | MPJPE (mm) | PA-MPJPE (mm) | " + pck_cols + " |",
                  "|---|---:|---:|" + "---:|" * len(pk)]
        for name, key in (("network", "network"), ("mean training pose at GT centre", "baseline_mean_training_pose"),
                          ("all joints at GT centre", "baseline_all_joints_at_centre"),
                          ("labels redrawn with the training skeleton (convention floor)", "skeleton_floor")):
            m = g.get(key)
            if not m:
                continue
            lines.append(f"| {name} | {_f(m['mpjpe_mm'])} | {_f(m['pa_mpjpe_mm'])} | "
                         + " | ".join(_f(m[k], 3) for k in pk) + " |")
        hs = g["hand_size"]

        def size(who: str, what: str) -> str:
            return _f(hs[who].get(what, {}).get("median"))

        lines += ["", "| | predicted | labels |", "|---|---:|---:|",
                  f"| wrist → middle tip (mm, median) | {size('predicted', 'wrist_to_middle_tip_mm')} | "
                  f"{size('labels', 'wrist_to_middle_tip_mm')} |",
                  f"| mean joint-to-centre (mm, median) | {size('predicted', 'joint_to_centre_mm')} | "
                  f"{size('labels', 'joint_to_centre_mm')} |",
                  f"| sum of the 20 bone lengths (mm, median; training labels {size('training_labels', 'bone_length_sum_mm')}) | "
                  f"{size('predicted', 'bone_length_sum_mm')} | {size('labels', 'bone_length_sum_mm')} |",
                  f"| frame-to-frame motion (mm, mean) | {_f(g['jitter_mm']['predicted']['mean'])} | "
                  f"{_f(g['jitter_mm']['labels']['mean'])} |",
                  f"| frame-to-frame change of the centre-relative pose (mm, mean) | "
                  f"{_f(g['jitter_mm']['predicted_centre_relative']['mean'])} | "
                  f"{_f(g['jitter_mm']['labels_centre_relative']['mean'])} |",
                  f"| frame-to-frame change of the error (mm, mean) | {_f(g['jitter_mm']['error']['mean'])} | |"]
        op = g.get("offset_probe")
        if op and op.get("offsets"):
            lines += ["", f"Offset probe: crops {_f(op['offset_mm'], 0)} mm off the GT centre; the fraction of the "
                      "offset the predicted joint mean keeps (1 = it follows the crop) and the MPJPE:", "",
                      "| offset | " + " | ".join(op["offsets"]) + " | mean |", "|---|" + "---:|" * (len(op["offsets"]) + 1),
                      "| kept fraction | " + " | ".join(_f(v["kept_fraction"], 2) for v in op["offsets"].values())
                      + f" | {_f(op['kept_fraction_mean'], 2)} |",
                      "| MPJPE (mm) | " + " | ".join(_f(v["mpjpe_mm"]) for v in op["offsets"].values())
                      + f" | {_f(op['mpjpe_mm_mean'])} |"]
        bs = g.get("by_seen_joints")
        if bs and bs["all"]["hands"]:
            probe_col = "kept_fraction" in bs["all"]
            rows = [(f"{k}", v) for k, v in bs["bins"].items()] + [
                (f"0-{bs['hidden']['max_seen']} (hidden, pooled)", bs["hidden"]), ("all", bs["all"])]
            lines += ["", "By joints seen per hand (network, GT crops):", "",
                      "| joints seen | hands | MPJPE (mm) |" + (" kept fraction |" if probe_col else ""),
                      "|---|---:|---:|" + ("---:|" if probe_col else "")]
            lines += [f"| {name} | {v['hands']} | {_f(v['mpjpe_mm'])} |"
                      + (f" {_f(v['kept_fraction'], 2)} |" if probe_col else "") for name, v in rows]
        pf = g["network"]["per_finger_mpjpe_mm"]
        lines += ["", "| per finger (network) | " + " | ".join(pf) + " |", "|---|" + "---:|" * len(pf),
                  "| MPJPE (mm) | " + " | ".join(_f(v) for v in pf.values()) + " |"]
    if "node" in res:
        n = res["node"]
        p = n["pose"]
        pk = [k for k in p if k.startswith("pck_")]
        lines += ["", f"Node defaults end to end ({res['frames']} frames)", "",
                  "| found | detections elsewhere | centre err median / p90 (mm) | MPJPE (mm) | PA-MPJPE (mm) | "
                  + " | ".join(k.replace("pck_", "PCK@") for k in pk) + " | handedness acc. | conf. AUROC |",
                  "|---:|---:|---:|---:|---:|" + "---:|" * len(pk) + "---:|---:|",
                  f"| {n['found']}/{n['labelled_hands']} | {n['detections_elsewhere']} | "
                  f"{_f(n['centre_error_mm']['median'])} / {_f(n['centre_error_mm']['p90'])} | {_f(p['mpjpe_mm'])} | "
                  f"{_f(p['pa_mpjpe_mm'])} | " + " | ".join(_f(p[k], 3) for k in pk) + f" | "
                  f"{_f(n['handedness']['accuracy'], 3)} | {_f(n['confidence']['auroc_true_vs_false'], 3)} |",
                  "", "Detections elsewhere include the subject's other hand when it is visible and found "
                  "(F-PHAB labels only the right hand).",
                  "", f"Identity switches (a published track found on another labelled hand than before): "
                  f"{n['identity_switches']['count']} over {n['identity_switches']['tracks']} tracks."]
        rows = n["confidence"]["tradeoff"]
        lines += ["", "Published hands kept by a `min_hand_confidence` threshold (this run's hands; F1 of found "
                  "against labelled hands):", "",
                  "| min_hand_confidence | found | detections elsewhere | F1 |", "|---:|---:|---:|---:|"]
        lines += [f"| {r['min_hand_confidence']:g} | {r['found']} | {r['detections_elsewhere']} | {_f(r['f1'], 3)} |"
                  for r in rows]
    if "localizer_candidates" in res:
        c = res["localizer_candidates"]
        lines += ["", f"Localiser candidates: the labelled hand is a candidate in {c['hand_among_candidates']}/"
                  f"{c['frames']} frames, median rank {_f(c['hand_rank']['median'])}, rank 1 in "
                  f"{c['hand_rank']['rank_1_frames']}; its score median {_f(c['hand_score']['median'], 3)}, the best "
                  f"other candidate's {_f(c['best_other_candidate']['score']['median'], 3)} at "
                  f"{_f(c['best_other_candidate']['mean_depth_mm']['median'], 0)} mm."]
    return "\n".join(lines)
