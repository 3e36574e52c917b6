"""Keypoint-Fusion (AAAI-24) RGB-D hand pose network in pure PyTorch (ROS-free).

``build_model(cfg)`` returns a module called as
``model(rgb, depth, pcl, center, M, cube, cam) -> KPFusionOutput`` with
rgb B×3×S×S (BGR in [0,1] for ``official``), depth B×1×S×S normalised to [-1, 1] with
background +1, pcl B×N×3 xyz_nl, center B×3 mm, M B×3×3 (full image px → crop px),
cube B×3 mm, cam B×4 (fx, fy, cx, cy).
"""

from __future__ import annotations

from .awr import decode_awr, joint2offset, point_joint_offset
from .baselines import DenseFusion, DepthOnly, RGBOnly
from .config import ARCHS, PRESETS, ModelConfig, preset
from .kpfusion import KPFusion
from .output import KPFusionOutput
from .rgb_kfam import geometry_adjacency_map, joint_heatmap

__all__ = [
    "ARCHS", "PRESETS", "ModelConfig", "preset", "build_model", "KPFusion", "DepthOnly", "RGBOnly",
    "DenseFusion", "KPFusionOutput", "decode_awr", "joint2offset", "point_joint_offset", "joint_heatmap",
    "geometry_adjacency_map", "count_parameters",
]

_ARCH = {"kpfusion": KPFusion, "depth_only": DepthOnly, "rgb_only": RGBOnly, "dense_fusion": DenseFusion}


def build_model(cfg: ModelConfig | str = "official"):
    """Build the network for ``cfg`` (a :class:`ModelConfig` or a preset name)."""
    if isinstance(cfg, str):
        cfg = preset(cfg)
    return _ARCH[cfg.arch](cfg)


def count_parameters(model) -> dict:
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    unused = set(getattr(model, "unused_parameter_names", lambda: [])())
    used = sum(p.numel() for n, p in model.named_parameters() if n not in unused)
    return {"total": total, "trainable": trainable, "used": used}
