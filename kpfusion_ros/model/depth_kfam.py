"""Depth keypoint feature aggregation module (paper Eq. (4); reference §1.3, §1.4(a)).

The point-cloud KFAM (the authors' comments call it "RGB Keypoint Aggregation", reference
§7.1): depth and RGB feature maps are projected onto the N points by 4-NN inverse-squared
distance interpolation, fused with the point coordinates and a per-point pose encoding
(Eq. (4): ReLU(BN(W1·F3d) + …) then + BN(W0·F_proj^RGB)), pooled per joint with the softmax
of the (detached) depth-backbone weight logits, and refined by the multi-scale local feature
aggregation FA (IPNet's DESA) with ball queries around each joint.

Ablations (paper Table 5): ``use_pcl`` drops the depth-feature term F3d (W1), ``use_rgb_proj``
drops the projected-RGB term (W0).
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from .awr import point_joint_offset
from .point_ops import ball_query, gather_points, interpolate_map_at_points


def _emb(cin: int, cout: int) -> nn.Sequential:
    """Conv1d(k=1, bias) + BatchNorm1d, no activation (reference §1.4(a)4)."""
    return nn.Sequential(nn.Conv1d(cin, cout, 1), nn.BatchNorm1d(cout))


class LocalFeatureAggregation(nn.Module):
    """FA: multi-scale ball-query aggregation around each joint (reference §1.4(a)7).

    Candidates = the N points plus the J joints (the joint is always in its own ball). Per
    scale r: loc = BN(Conv(Δxyz/r)), feat = BN(Conv(f − f_joint)), x = ReLU(loc + feat),
    x = ReLU(BN(Conv(x))), max over the k neighbours. Output = ReLU(BN(Conv1d([s0, s1, s2,
    f_joint])))."""

    def __init__(self, dim: int = 128, radii=(0.1, 0.2, 0.4), samples: int = 64):
        super().__init__()
        self.radii, self.samples = tuple(radii), samples
        n = len(radii)
        self.conv_l0_blocks = nn.ModuleList([nn.Conv2d(3, dim, 1) for _ in range(n)])
        self.conv_f0_blocks = nn.ModuleList([nn.Conv2d(dim, dim, 1) for _ in range(n)])
        self.bn_l0_blocks = nn.ModuleList([nn.BatchNorm2d(dim) for _ in range(n)])
        self.bn_f0_blocks = nn.ModuleList([nn.BatchNorm2d(dim) for _ in range(n)])
        self.conv_blocks = nn.ModuleList([nn.ModuleList([nn.Conv2d(dim, dim, 1)]) for _ in range(n)])
        self.bn_blocks = nn.ModuleList([nn.ModuleList([nn.BatchNorm2d(dim)]) for _ in range(n)])
        self.fusion = nn.Sequential(nn.Conv1d(dim * (n + 1), dim, 1), nn.BatchNorm1d(dim), nn.ReLU())

    def forward(self, pcl_feat, joint_feat, pcl_xyz, joint_xyz):
        """pcl_feat B×N×C, joint_feat B×J×C, pcl_xyz B×N×3, joint_xyz B×J×3 → B×J×C."""
        cand_xyz = torch.cat([pcl_xyz, joint_xyz], 1)
        cand_feat = torch.cat([pcl_feat, joint_feat], 1)
        outs = []
        for i, r in enumerate(self.radii):
            idx = ball_query(cand_xyz, joint_xyz, r, self.samples)                  # B×J×k
            gx = (gather_points(cand_xyz, idx) - joint_xyz.unsqueeze(2)) / r          # B×J×k×3
            gf = gather_points(cand_feat, idx) - joint_feat.unsqueeze(2)              # B×J×k×C
            x = F.relu(self.bn_l0_blocks[i](self.conv_l0_blocks[i](gx.permute(0, 3, 1, 2)))
                       + self.bn_f0_blocks[i](self.conv_f0_blocks[i](gf.permute(0, 3, 1, 2))))
            for conv, bn in zip(self.conv_blocks[i], self.bn_blocks[i]):
                x = F.relu(bn(conv(x)))
            outs.append(x.max(dim=-1).values)                                        # B×C×J
        outs.append(joint_feat.transpose(1, 2))
        return self.fusion(torch.cat(outs, 1)).transpose(1, 2)


class DepthKFAM(nn.Module):
    """Depth (point-cloud) KFAM → depth keypoint features B×J×C (paper Eq. (4), reference §1.4(a))."""

    def __init__(self, dim: int = 128, num_joints: int = 21, kernel: float = 0.8, radii=(0.1, 0.2, 0.4),
                 samples: int = 64, use_pcl: bool = True, use_rgb_proj: bool = True):
        super().__init__()
        self.kernel, self.use_pcl, self.use_rgb_proj = kernel, use_pcl, use_rgb_proj
        if use_pcl:
            self.pcl_feat_emb = _emb(dim, dim)
        self.pcl_xyz_emb = _emb(3, dim)
        self.pcl_pose_emb = _emb(5 * num_joints, dim)
        if use_rgb_proj:
            self.pcl_feat_emb_RGB = _emb(dim, dim)
        self.joint_feat_emb = _emb(dim, dim)
        self.joint_xyz_emb = _emb(3, dim)
        self.fa = LocalFeatureAggregation(dim, radii, samples)
        for m in self.fa.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.normal_(m.weight, 0, math.sqrt(2.0 / m.out_channels))

    def forward(self, feat_d, feat_rgb, pcl, joints, knn_w, knn_idx, weight_logits):
        """feat_d/feat_rgb B×C×S×S, pcl B×N×3, joints B×J×3 (xyz_nl), knn_w/knn_idx B×N×k,
        weight_logits B×J×S×S (depth-backbone W channels) → B×J×C."""
        joints = joints.detach()
        pose = point_joint_offset(joints, pcl, self.kernel).detach()                 # B×N×4J
        w = interpolate_map_at_points(weight_logits, knn_w, knn_idx).detach()        # B×N×J
        t = lambda x: x.transpose(1, 2)
        x = self.pcl_xyz_emb(t(pcl)) + self.pcl_pose_emb(t(torch.cat([w, pose], -1)))
        if self.use_pcl:
            x = x + self.pcl_feat_emb(t(interpolate_map_at_points(feat_d, knn_w, knn_idx)))
        x = F.relu(x)
        if self.use_rgb_proj:
            x = F.relu(x + self.pcl_feat_emb_RGB(t(interpolate_map_at_points(feat_rgb, knn_w, knn_idx))))
        pcl_feat = t(x)                                                              # B×N×C
        joint_feat = torch.softmax(t(w), dim=-1) @ pcl_feat                          # B×J×C
        joint_feat = F.relu(self.joint_feat_emb(t(joint_feat)) + self.joint_xyz_emb(t(joints)))
        return self.fa(pcl_feat, t(joint_feat), pcl, joints)
