"""Losses of the reference (§2, ``train.py:194-265``, ``model/loss.py``).

Per element z: 0.5·z² if |z| < 0.01 else 0.01·(|z| − 0.005) = 0.01 × torch's smooth-L1
with β = 0.01; reduction: global mean. Total (all summed):

* every backbone P map (depth, RGB; the dense baseline's fused map too):
  ``w_map`` (1) × SL1(P[:, :4J], joint2offset(uvd_gt, depth)) and
  ``w_awr`` (100) × SL1(decode_awr(P, depth), uvd_gt) — the RGB map uses the depth-derived
  target, mask and d coordinate like the authors;
* every supervised pose in ``out.poses`` (stage init/final, dense fused): ``w_pose`` (100) ×
  SL1(pose, xyz_gt);
* every W_hm: ``w_whm`` (10) × SL1(W_hm, G/max(G)), G = joint_heatmap(uvd_gt uv, std 0.8,
  σ = 3 for stage 1 and 2 for later stages (effective 2.4 / 1.6 px on the S/4 grid)),
  max = the global max over the batch tensor.

Models without some outputs (depth_only, rgb_only) simply have fewer terms.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..model.awr import decode_awr, joint2offset
from ..model.rgb_kfam import joint_heatmap


@dataclass
class LossWeights:
    map: float = 1.0      # offset + closeness channels of each P map
    awr: float = 100.0    # AWR-decoded uvd of each P map
    pose: float = 100.0   # every stage pose (xyz_nl)
    whm: float = 10.0     # W_hm heatmap supervision
    whm_sigmas: tuple = (3.0, 2.0)  # per stage (last value repeats for later stages)
    whm_std: float = 0.8


def smooth_l1(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The authors' SmoothL1: 0.01 × smooth_l1(β = 0.01), global mean."""
    return 0.01 * F.smooth_l1_loss(pred, target, beta=0.01, reduction="mean")


def whm_target(uvd_gt: torch.Tensor, size: int, sigma: float, std: float = 0.8) -> torch.Tensor:
    """G / max(G) with G = joint_heatmap(uvd_gt[..., :2], size, std, sigma); global max."""
    g = joint_heatmap(uvd_gt[..., :2], size, std, sigma)
    return g / g.max().clamp_min(1e-12)


def compute_losses(out, depth: torch.Tensor, xyz_gt: torch.Tensor, uvd_gt: torch.Tensor,
                   kernel: float = 0.8, weights: LossWeights = LossWeights()) -> dict[str, torch.Tensor]:
    """All loss terms of one batch → dict name → scalar, plus ``"total"`` (weighted sum).

    ``out``: :class:`~kpfusion_ros.model.KPFusionOutput`; ``depth`` B×1×S×S normalised depth
    crop; ``xyz_gt``/``uvd_gt`` B×J×3. Entry names: ``map.<name>``, ``awr.<name>`` (maps in
    ``out.map_names``), ``pose.<pose name>``, ``whm.<stage>``; values are UNweighted. Outputs of a
    reduced-precision (autocast) forward pass are compared in float32. ``kernel`` is the model's
    ``awr_kernel``: the first map's AWR term re-uses ``out.initial_uvd``, which the model decoded
    with it (decoding it again gives the same values).
    """
    J = xyz_gt.shape[1]
    terms: dict[str, torch.Tensor] = {}
    total = depth.new_zeros(())
    offset_target = None
    for i, pmap in enumerate(out.maps):
        pmap = pmap.float()
        name = out.map_names[i] if i < len(out.map_names) else str(i)
        if offset_target is None:
            offset_target = joint2offset(uvd_gt, depth, kernel, pmap.shape[-1])
        # split, not a slice: the slice's backward would zero-fill a whole P-map-sized gradient
        l_map = smooth_l1(pmap.split([4 * J, pmap.shape[1] - 4 * J], dim=1)[0], offset_target)
        if i == 0 and out.maps[0].dtype == torch.float32 and out.initial_uvd.dtype == torch.float32:
            uvd_pred = out.initial_uvd  # the forward pass's own decode of this map (KPFusionOutput)
        else:
            uvd_pred = decode_awr(pmap, depth, kernel)
        l_awr = smooth_l1(uvd_pred, uvd_gt)
        terms[f"map.{name}"], terms[f"awr.{name}"] = l_map, l_awr
        total = total + weights.map * l_map + weights.awr * l_awr
    for i, pose in enumerate(out.poses):
        name = out.pose_names[i] if i < len(out.pose_names) else str(i)
        l = smooth_l1(pose.float(), xyz_gt)
        terms[f"pose.{name}"] = l
        total = total + weights.pose * l
    for i, w in enumerate(out.whm):
        sig = weights.whm_sigmas[min(i, len(weights.whm_sigmas) - 1)]
        w = w.float()
        l = smooth_l1(w, whm_target(uvd_gt, w.shape[-1], sig, weights.whm_std).to(w.dtype))
        terms[f"whm.b{i + 1}"] = l
        total = total + weights.whm * l
    terms["total"] = total
    return terms
