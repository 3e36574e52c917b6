"""One iterative fusion stage (paper Fig. 2 "KFAM + cross-modal keypoint interaction";
reference §1.4, the authors' ``Block_KPFusion``).

Order as in the code: depth KFAM → intra-modal transformer (its pose = the stage's first
supervised output, "REF") → RGB KFAM at that pose → inter-modal cross-attention decoder
(query RGB keypoints, key/value depth keypoints) → inter-modal encoder on [pose, fused] →
the stage's final pose. Detach pattern of reference §1.4: the incoming joints are detached
for every use inside the stage; the intra-TR pose is not detached when it feeds RGB KFAM
and the inter-modal encoder.

Ablations (paper Table 5): without depth KFAM (use_pcl = use_rgb_proj = False) there is no
intra-modal transformer and no cross-attention, the inter-modal encoder sees [joints, K_RGB];
without RGB KFAM (use_hwm = use_gam = False) the inter-modal encoder sees [pose, K_D-hidden];
without REF (use_refine = False) the intra-TR runs without pose head and the RGB KFAM uses the
incoming joints; the stage then has one supervised pose.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch
import torch.nn as nn

from .config import ModelConfig
from .depth_kfam import DepthKFAM
from .rgb_kfam import RGBKFAM
from .transformer import CrossAttentionDecoder, KeypointTransformer


@dataclass
class StageOutput:
    init_pose: Optional[torch.Tensor]   # intra-TR pose (B×J×3 xyz_nl) or None without REF/depth KFAM
    final_pose: torch.Tensor            # inter-modal encoder pose (B×J×3 xyz_nl)
    rgb_feat: Optional[torch.Tensor]    # RGB keypoint feature for the next stage
    whm: Optional[torch.Tensor]         # W_hm B×J×S×S or None


class FusionStage(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        C, J = cfg.feature_dim, cfg.num_joints
        self.use_refine = cfg.use_refine
        tr = dict(dim=C, layers=cfg.tr_layers, heads=cfg.tr_heads, ffn=cfg.tr_ffn,
                  dropout=cfg.tr_dropout, max_positions=cfg.tr_max_positions)
        self.depth_kfam = self.intra_tr = self.rgb_kfam = self.cross_tr = None
        if cfg.use_depth_kfam:
            self.depth_kfam = DepthKFAM(C, J, cfg.awr_kernel, cfg.fa_radii, cfg.fa_samples,
                                        cfg.use_pcl, cfg.use_rgb_proj)
            self.intra_tr = KeypointTransformer(C, **tr)
            if not cfg.use_refine:  # no REF: the pose head of the intra-TR is not built
                self.intra_tr.cls_head = self.intra_tr.residual = None
        if cfg.use_rgb_kfam:
            self.rgb_kfam = RGBKFAM(C, J, cfg.feature_size, cfg.crop_size, cfg.gam_gamma, cfg.gam_plus_one,
                                    cfg.heatmap_from_xyz, cfg.gam_joints_as_uvd, cfg.heatmap_std,
                                    cfg.heatmap_sigma, cfg.use_hwm, cfg.use_gam)
        if cfg.use_depth_kfam and cfg.use_rgb_kfam:
            self.cross_tr = CrossAttentionDecoder(C, cfg.cross_heads, cfg.cross_ffn, J, cfg.cross_layers,
                                                  cfg.tr_dropout, cfg.cross_same_input)
        self.final_tr = KeypointTransformer(C + 3, **tr)

    def _intra(self, k_d):
        it = self.intra_tr
        h = it.drop(it.img_embedding(k_d) + it.position_embeddings(torch.arange(k_d.shape[1], device=k_d.device)))
        for layer in it.layers:
            h = layer(h)
        return h

    def forward(self, feat_d, feat_rgb, pcl, joints, knn_w, knn_idx, weight_logits, pixel_xyz,
                center, M, cube, cam, prev_rgb=None) -> StageOutput:
        joints_in = joints.detach()
        hidden = init_pose = None
        pose = joints_in
        if self.depth_kfam is not None:
            k_d = self.depth_kfam(feat_d, feat_rgb, pcl, joints_in, knn_w, knn_idx, weight_logits)
            if self.use_refine:
                hidden, init_pose = self.intra_tr(k_d)
                pose = init_pose
            else:
                hidden = self._intra(k_d)
        k_rgb = whm = None
        if self.rgb_kfam is not None:
            k_rgb, whm = self.rgb_kfam(feat_rgb, pose, pixel_xyz, center, M, cube, cam, prev_rgb)
        if self.cross_tr is not None:
            fused = self.cross_tr(k_rgb, hidden)
        else:
            fused = k_rgb if k_rgb is not None else hidden
        _, final_pose = self.final_tr(torch.cat([pose, fused], -1))
        return StageOutput(init_pose, final_pose, k_rgb, whm)
