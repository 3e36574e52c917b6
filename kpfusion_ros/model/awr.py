"""Adaptive weighted-average regression (AWR, Huang et al.) for the initial pose.

Paper §"Initial Hand Pose Estimation"; reference §1.2. A P map (B×5J×S×S) holds
[0:3J) unit 3D offsets Û (joint-major, c ∈ {u,v,d}), [3J:4J) closeness H,
[4J:5J) weight logits W. The depth image gives the d coordinate and the
foreground mask (d < 0.99) of each pixel after **nearest** down-sampling (the
authors' default ``F.interpolate``: top-left sample of each block; reference
§7.13 keeps this on purpose).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..geometry import grid_uv_nl

BG_THRESHOLD = 0.99
MASKED_LOGIT = -1e8


def downsample_depth(depth: torch.Tensor, size: int) -> torch.Tensor:
    """Nearest down-sampling of the normalised depth B×1×S×S → B×1×size×size (reference §1.2)."""
    return F.interpolate(depth, size=(size, size), mode="nearest")


def pixel_uvd(depth_small: torch.Tensor) -> torch.Tensor:
    """Pixel-centre uvd_nl of every feature pixel: B×S²×3 (u = column)."""
    B, _, S, _ = depth_small.shape
    uv = grid_uv_nl(S, device=depth_small.device, dtype=depth_small.dtype).unsqueeze(0).expand(B, -1, -1)
    return torch.cat([uv, depth_small.reshape(B, S * S, 1)], dim=-1)


def decode_awr(pmap: torch.Tensor, depth: torch.Tensor, kernel: float = 0.8) -> torch.Tensor:
    """Decode a P map (B×5J×S×S) into joints (B×J×3, uvd_nl) with the depth image (B×1×H×W).

    ĵ_j = Σ_p softmax_p(W_jp, background −1e8) · (P_p + (K − K·H_jp·m_p)·Û_jp·m_p)
    (reference §1.2). Used for the depth initial pose and, with the DEPTH image as the d
    coordinate and mask, for the RGB branch's auxiliary loss.

    Computed as the two sums it is, Σ_p w·P_p (one batched product) plus Σ_p (w·(K − K·H·m)·m)·Û
    (a batched matrix–vector product), so that no B×J×3×S² candidate tensor is formed (forward or
    backward); test/test_model_ops.py checks it against the candidate-by-candidate formula.
    """
    B, C5, S, _ = pmap.shape
    J = C5 // 5
    P = S * S
    dt = torch.promote_types(pmap.dtype, depth.dtype)  # mixed inputs are decoded in the wider type
    pmap, depth = pmap.to(dt), depth.to(dt)
    d = downsample_depth(depth, S)
    pts = pixel_uvd(d)                                       # B×S²×3
    mask = (d.reshape(B, 1, P) < BG_THRESHOLD).to(pmap.dtype)  # B×1×S²
    # one split (its backward is one concatenation; three slices would each zero-fill a P-map-sized gradient)
    off, heat, logit = pmap.split([3 * J, J, J], dim=1)
    off = off.reshape(B, J, 3, P)
    heat = heat.reshape(B, J, P)
    logit = torch.where(mask > 0, logit.reshape(B, J, P), torch.full_like(heat, MASKED_LOGIT))
    w = torch.softmax(logit, dim=-1)                          # B×J×S²
    coef = w * (kernel - kernel * heat * mask) * mask         # B×J×S²
    return torch.bmm(w, pts) + torch.matmul(off, coef.unsqueeze(-1)).squeeze(-1)


def joint2offset(joints_uvd: torch.Tensor, depth: torch.Tensor, kernel: float = 0.8,
                 feature_size: int | None = None) -> torch.Tensor:
    """AWR targets for the first 4J channels of a P map (reference §1.2 "Ground truth").

    offset = J − P_p, dist = √(‖offset‖² + 1e-8), Û = offset/dist, H = (K − dist)/K;
    mask = [H ≥ 0]·[d < 0.99]. Returns B×4J×S×S = [Û (3J, joint-major), H (J)]; the weight
    channels have no target. Computed coordinate by coordinate (B×J×S² tensors, no B×J×S²×3 ones).
    """
    B, J, _ = joints_uvd.shape
    S = feature_size or depth.shape[-1] // 4
    d = downsample_depth(depth, S)
    pts = pixel_uvd(d)                                       # B×S²×3
    diff = [joints_uvd[..., c].unsqueeze(2) - pts[..., c].unsqueeze(1) for c in range(3)]  # B×J×S² each
    dist = torch.sqrt(diff[0] * diff[0] + diff[1] * diff[1] + diff[2] * diff[2] + 1e-8)
    heat = (kernel - dist) / kernel
    m = ((heat >= 0) & (d.reshape(B, 1, S * S) < BG_THRESHOLD)).to(joints_uvd.dtype)
    unit = torch.stack([x / dist * m for x in diff], dim=2).reshape(B, 3 * J, S, S)  # joint-major
    return torch.cat([unit, (heat * m).reshape(B, J, S, S)], dim=1)


def point_joint_offset(joints_xyz: torch.Tensor, pcl: torch.Tensor, kernel: float = 0.8) -> torch.Tensor:
    """Per-point pose encoding (reference §1.4(a)1): B×N×4J = [unit (J−p)/(‖J−p‖+1e-8) (3J,
    joint-major), closeness (K − ‖J−p‖)/K (J)], both masked by [closeness ≥ 0]·[p_z < 0.99]."""
    B, N, _ = pcl.shape
    J = joints_xyz.shape[1]
    off = joints_xyz.unsqueeze(1) - pcl.unsqueeze(2)          # B×N×J×3
    dist = off.norm(dim=-1)                                   # B×N×J
    unit = off / (dist.unsqueeze(-1) + 1e-8)
    close = (kernel - dist) / kernel
    m = ((close >= 0) & (pcl[..., 2:3] < BG_THRESHOLD)).to(pcl.dtype)
    unit = (unit * m.unsqueeze(-1)).reshape(B, N, 3 * J)
    return torch.cat([unit, close * m], dim=-1)
