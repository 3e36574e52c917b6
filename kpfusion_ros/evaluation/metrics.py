"""Pose metrics (reference §3 "Eval metric").

* MPJPE: per-joint Euclidean error (mm) averaged over joints and hands (we average over all
  hands; the authors average per-batch means, which differs only by the last batch's weight).
* PA-MPJPE: per hand, Umeyama similarity (scale c, rotation R with reflection fix,
  translation t) fitting pred to GT, then MPJPE.
* AUC: PCK at 20 thresholds linspace(0, 50, 20) mm, trapezoidal area / 50 (∈ [0, 1]).
"""

from __future__ import annotations

import numpy as np
import torch

AUC_THRESHOLDS = np.linspace(0.0, 50.0, 20)


def per_joint_errors(pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """K×J Euclidean errors (same units as the inputs)."""
    return (pred - gt).norm(dim=-1)


def umeyama_align(pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """pred K×J×3 aligned to gt by the per-sample similarity minimising the squared error."""
    p, g = pred.double(), gt.double()
    mp, mg = p.mean(1, keepdim=True), g.mean(1, keepdim=True)
    x, y = p - mp, g - mg
    var_x = (x ** 2).sum((1, 2)) / x.shape[1]
    cov = y.transpose(1, 2) @ x / x.shape[1]                  # K×3×3 (Σ_xy of Umeyama: y x^T)
    U, D, Vt = torch.linalg.svd(cov)
    S = torch.eye(3, dtype=p.dtype, device=p.device).repeat(p.shape[0], 1, 1)
    S[:, 2, 2] = torch.where(torch.det(U) * torch.det(Vt) < 0, -1.0, 1.0)
    R = U @ S @ Vt
    c = (D * torch.diagonal(S, dim1=1, dim2=2)).sum(1) / var_x.clamp_min(1e-12)
    out = c.view(-1, 1, 1) * x @ R.transpose(1, 2) + mg
    return out.to(pred.dtype)


def mpjpe(pred: torch.Tensor, gt: torch.Tensor) -> float:
    return float(per_joint_errors(pred, gt).mean()) if pred.numel() else float("nan")


def pa_mpjpe(pred: torch.Tensor, gt: torch.Tensor) -> float:
    return mpjpe(umeyama_align(pred, gt), gt) if pred.numel() else float("nan")


def auc_pck(errors: torch.Tensor | np.ndarray, thresholds=AUC_THRESHOLDS) -> tuple[float, list[float]]:
    """(AUC ∈ [0, 1], PCK per threshold) of joint errors (mm, any shape)."""
    e = errors.detach().cpu().numpy().ravel() if isinstance(errors, torch.Tensor) else np.asarray(errors).ravel()
    if e.size == 0:
        return float("nan"), [float("nan")] * len(thresholds)
    pck = np.array([(e <= t).mean() for t in thresholds])
    trap = getattr(np, "trapezoid", None) or np.trapz
    return float(trap(pck, thresholds) / (thresholds[-1] - thresholds[0])), pck.tolist()


def summarize(pred_mm: torch.Tensor, gt_mm: torch.Tensor) -> dict:
    """MPJPE, PA-MPJPE (mm), AUC, PCK curve, per-joint MPJPE and PA-MPJPE of K×J×3 poses in mm."""
    err = per_joint_errors(pred_mm, gt_mm)
    pa_err = per_joint_errors(umeyama_align(pred_mm, gt_mm), gt_mm) if len(pred_mm) else err
    auc, pck = auc_pck(err)
    return {
        "count": int(pred_mm.shape[0]),
        "mpjpe_mm": float(err.mean()) if err.numel() else float("nan"),
        "pa_mpjpe_mm": float(pa_err.mean()) if err.numel() else float("nan"),
        "auc_0_50": auc,
        "pck": pck,
        "per_joint_mpjpe_mm": err.mean(0).tolist() if err.numel() else [],
        "per_joint_pa_mpjpe_mm": pa_err.mean(0).tolist() if err.numel() else [],
    }


def pck(errors: torch.Tensor | np.ndarray, threshold_mm: float) -> float:
    """Fraction of joint errors (mm, any shape) at or below ``threshold_mm`` (NaN when there are none)."""
    e = errors.detach().cpu().numpy().ravel() if isinstance(errors, torch.Tensor) else np.asarray(errors).ravel()
    return float((e <= threshold_mm).mean()) if e.size else float("nan")


def auroc(positive_scores, negative_scores) -> float:
    """Area under the ROC curve of scores that should rank positives above negatives.

    The probability that a random positive scores higher than a random negative, ties counting
    one half (the Mann-Whitney U statistic / (n_pos·n_neg)). NaN when either set is empty.
    """
    p = np.asarray(positive_scores, dtype=np.float64).ravel()
    n = np.asarray(negative_scores, dtype=np.float64).ravel()
    if p.size == 0 or n.size == 0:
        return float("nan")
    allv = np.concatenate([p, n])
    order = np.argsort(allv, kind="mergesort")
    ranks = np.empty(allv.size, dtype=np.float64)
    ranks[order] = np.arange(1, allv.size + 1)
    # average ranks of tied values
    uniq, inv, counts = np.unique(allv, return_inverse=True, return_counts=True)
    sums = np.bincount(inv, weights=ranks)
    ranks = (sums / counts)[inv]
    u = ranks[: p.size].sum() - p.size * (p.size + 1) / 2.0
    return float(u / (p.size * n.size))
