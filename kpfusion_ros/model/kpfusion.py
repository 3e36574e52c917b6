"""The full Keypoint-Fusion network (paper Fig. 2; reference §1).

depth U-Net → AWR initial pose (uvd_nl → xyz_nl, detached) → 4-NN projection of feature
pixels onto the point cloud (computed once, shared by all stages, reference §1.3) →
``num_stages`` :class:`FusionStage` blocks, each refining the pose. The RGB U-Net's P map is
returned for its auxiliary AWR loss only (decode it with :meth:`KPFusion.decode_map`).
"""

from __future__ import annotations

import torch
import torch.nn as nn

from ..geometry import uvd_nl_to_xyz_nl
from .awr import decode_awr, downsample_depth
from .backbone import UNetBackbone
from .config import ModelConfig
from .fusion_stage import FusionStage
from .output import KPFusionOutput
from .point_ops import knn_inverse_sq_weights, lift_pixels


def make_backbone(cfg: ModelConfig, in_channels: int) -> UNetBackbone:
    return UNetBackbone(in_channels, cfg.num_joints, cfg.trunk_widths, cfg.trunk_blocks, cfg.feature_dim)


class _Base(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.config = cfg

    def decode_map(self, pmap: torch.Tensor, depth: torch.Tensor) -> torch.Tensor:
        """AWR-decode any P map with the DEPTH image as d coordinate and mask → B×J×3 uvd_nl
        (reference §1.2; used for the RGB branch's auxiliary loss)."""
        return decode_awr(pmap, depth, self.config.awr_kernel)

    def to_xyz(self, uvd, center, M, cube, cam):
        return uvd_nl_to_xyz_nl(uvd, center, M, cube, cam, crop_size=self.config.crop_size)

    def unused_parameter_names(self) -> list[str]:
        """Parameters the forward pass never uses (the Residual skip convs with in == out)."""
        out = []
        for name, m in self.named_children():
            if isinstance(m, UNetBackbone):
                out += [f"{name}.{n}" for n in m.unused_parameter_names()]
        return out


class KPFusion(_Base):
    """``model(rgb, depth, pcl, center, M, cube, cam) -> KPFusionOutput`` (shapes: see
    :mod:`kpfusion_ros.model`)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__(cfg)
        self.backbone_d = make_backbone(cfg, 1)
        self.backbone_rgb = make_backbone(cfg, 3)
        self.stages = nn.ModuleList([FusionStage(cfg) for _ in range(cfg.num_stages)])

    def forward(self, rgb, depth, pcl, center, M, cube, cam) -> KPFusionOutput:
        cfg = self.config
        p_d, f_d = self.backbone_d(depth)
        p_rgb, f_rgb = self.backbone_rgb(rgb)
        J, S = cfg.num_joints, f_d.shape[-1]
        init_uvd = decode_awr(p_d, depth, cfg.awr_kernel)
        initial = self.to_xyz(init_uvd, center, M, cube, cam)
        joints = initial.detach()
        weight_logits = p_d.detach()[:, 4 * J:]
        pixel_xyz = lift_pixels(downsample_depth(depth, S), center, M, cube, cam, cfg.crop_size)
        knn_w = knn_idx = None
        if cfg.use_depth_kfam:
            knn_w, knn_idx = knn_inverse_sq_weights(pcl, pixel_xyz, cfg.knn)
        poses, names, whm, prev = [], [], [], None
        for i, stage in enumerate(self.stages):
            o = stage(f_d, f_rgb, pcl, joints, knn_w, knn_idx, weight_logits, pixel_xyz,
                      center, M, cube, cam, prev)
            if o.init_pose is not None:
                poses.append(o.init_pose)
                names.append(f"b{i + 1}.init")
            poses.append(o.final_pose)
            names.append(f"b{i + 1}.final")
            if o.whm is not None:
                whm.append(o.whm)
            prev, joints = o.rgb_feat, o.final_pose
        return KPFusionOutput([p_d, p_rgb], poses, whm, initial, init_uvd, names, ["depth", "rgb"])
