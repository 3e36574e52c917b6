"""Evaluation: MPJPE, PA-MPJPE, AUC (reference §3 "Eval metric") under two protocols."""

from .metrics import auc_pck, mpjpe, pa_mpjpe, per_joint_errors, summarize, umeyama_align
from .evaluate import EvalConfig, evaluate_gt_crops, evaluate_localizer, evaluate_model

__all__ = ["auc_pck", "mpjpe", "pa_mpjpe", "per_joint_errors", "summarize", "umeyama_align", "EvalConfig",
           "evaluate_gt_crops", "evaluate_localizer", "evaluate_model"]
