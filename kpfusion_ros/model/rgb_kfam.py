"""RGB keypoint feature aggregation module (paper Eqs. (1)–(3); reference §1.4(c), §7.3–7.6).

* heatmap-based weight map W_hm = sigmoid(Conv1×1([F_rgb, H_2d]))            (Eq. (1))
* geometry adjacency map  GAM = 1/(γ·d² + 1), γ = 10, d in xyz_nl            (Eq. (2))
* K_RGB_j = FC_{S²→1}( ReLU((α·GAM + (1−α)·W_hm)_j ⊙ F_rgb) ), α = sigmoid(a), a init 0 (Eq. (3))
* with a previous stage: K_RGB ← ReLU((K_RGB + K_prev)/2)

``official`` follows the authors' code on purpose: the +1 in GAM (paper: none), α weighting
GAM (paper: W_hm), no normalisation of the weights, the heatmap built from the xyz_nl x,y
of the joints as if they were uv_nl (``heatmap_from_xyz``) and the joints re-lifted as if
they were uvd_nl for GAM (``gam_joints_as_uvd``). The joints are not detached here (as in
the authors' code). Ablations (Table 5): ``use_hwm`` / ``use_gam`` keep one map only (then
without α).
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..geometry import uvd_nl_to_xyz_nl, xyz_nl_to_uvd_nl
from .point_ops import square_distance


def joint_heatmap(uv_nl: torch.Tensor, size: int, std: float = 0.8, sigma: float = 1.0) -> torch.Tensor:
    """Unnormalised Gaussian maps B×J×size×size of joints at uv_nl (B×J×2, u = column):
    exp(−[((x+0.5−x_j)/std)² + ((y+0.5−y_j)/std)²]/(2σ²)), x_j = (u+1)/2·size
    (reference §1.4(c)1; the W_hm training target uses the same with σ = 3 / 2)."""
    c = torch.arange(size, device=uv_nl.device, dtype=uv_nl.dtype) + 0.5
    xj = (uv_nl[..., 0] + 1) / 2 * size
    yj = (uv_nl[..., 1] + 1) / 2 * size
    dx = ((c.view(1, 1, 1, -1) - xj[..., None, None]) / std) ** 2
    dy = ((c.view(1, 1, -1, 1) - yj[..., None, None]) / std) ** 2
    return torch.exp(-(dx + dy) / (2 * sigma ** 2))


def geometry_adjacency_map(joints_xyz: torch.Tensor, pixel_xyz: torch.Tensor, gamma: float = 10.0,
                           plus_one: bool = True) -> torch.Tensor:
    """GAM B×J×S² = 1/(γ·‖p − j‖² + 1) (code) or 1/max(γ·‖p − j‖², 1e-6) (paper Eq. (2))."""
    d2 = square_distance(joints_xyz, pixel_xyz)
    return 1.0 / (gamma * d2 + 1.0) if plus_one else 1.0 / (gamma * d2).clamp_min(1e-6)


class RGBKFAM(nn.Module):
    """RGB KFAM → (RGB keypoint features B×J×C, W_hm B×J×S×S or None)."""

    def __init__(self, dim: int = 128, num_joints: int = 21, feature_size: int = 32, crop_size: int = 128,
                 gamma: float = 10.0, plus_one: bool = True, heatmap_from_xyz: bool = True,
                 gam_joints_as_uvd: bool = True, heatmap_std: float = 0.8, heatmap_sigma: float = 1.0,
                 use_hwm: bool = True, use_gam: bool = True):
        super().__init__()
        if not (use_hwm or use_gam):
            raise ValueError("RGBKFAM needs use_hwm or use_gam")
        self.S, self.crop = feature_size, crop_size
        self.gamma, self.plus_one = gamma, plus_one
        self.heatmap_from_xyz, self.gam_joints_as_uvd = heatmap_from_xyz, gam_joints_as_uvd
        self.std, self.sigma = heatmap_std, heatmap_sigma
        self.use_hwm, self.use_gam = use_hwm, use_gam
        if use_hwm:
            self.atten_spatial = nn.Conv2d(dim + num_joints, num_joints, 1)
            nn.init.normal_(self.atten_spatial.weight, 0, math.sqrt(2.0 / num_joints))
        if use_hwm and use_gam:
            self.weight_dis = nn.Parameter(torch.zeros(1))
        self.fc_spatial2joint_feature = nn.Linear(feature_size * feature_size, 1)
        nn.init.normal_(self.fc_spatial2joint_feature.weight, 0, 0.001)

    def forward(self, feat_rgb, joints, pixel_xyz, center, M, cube, cam, prev=None):
        B, C, S, _ = feat_rgb.shape
        J = joints.shape[1]
        whm = gam = None
        if self.use_hwm:
            uv = joints[..., :2] if self.heatmap_from_xyz else \
                xyz_nl_to_uvd_nl(joints, center, M, cube, cam, self.crop)[..., :2]
            hm = joint_heatmap(uv, S, self.std, self.sigma)
            whm = torch.sigmoid(self.atten_spatial(torch.cat([feat_rgb, hm], 1)))     # B×J×S×S
        if self.use_gam:
            jx = uvd_nl_to_xyz_nl(joints, center, M, cube, cam, self.crop) if self.gam_joints_as_uvd else joints
            gam = geometry_adjacency_map(jx, pixel_xyz, self.gamma, self.plus_one).view(B, J, S, S)
        if whm is not None and gam is not None:
            a = torch.sigmoid(self.weight_dis)
            mix = a * gam + (1 - a) * whm
        else:
            mix = whm if whm is not None else gam
        # FC_{S²→1}(ReLU(mix_j ⊙ F)) without the B×J×C×S² tensor: the weights are ≥ 0 (sigmoid, GAM), so
        # ReLU(m·f) = m·ReLU(f) and the FC over pixels is one batched product (mix_j·w)ᵀ ReLU(F)
        fc = self.fc_spatial2joint_feature
        wmix = mix.reshape(B, J, S * S) * fc.weight.view(1, 1, S * S)                 # B×J×S²
        k = torch.bmm(wmix, F.relu(feat_rgb).reshape(B, C, S * S).transpose(1, 2)) + fc.bias  # B×J×C
        if prev is not None:
            k = F.relu((k + prev) / 2)
        return k, whm
