"""The common output type of every model built by :func:`kpfusion_ros.model.build_model`."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch


@dataclass
class KPFusionOutput:
    """maps: backbone P maps B×5J×s×s (depth first, then RGB when present; dense_fusion adds
    its fused map third); poses: every supervised 3D pose B×J×3 xyz_nl in order
    (b1.init, b1.final, b2.init, …; see ``pose_names``); whm: W_hm per stage (B×J×s×s);
    initial: AWR initial pose (xyz_nl) decoded from the first map; initial_uvd: the same in
    uvd_nl (the quantity the backbone's coordinate loss supervises)."""

    maps: list[torch.Tensor]
    poses: list[torch.Tensor]
    whm: list[torch.Tensor]
    initial: torch.Tensor
    initial_uvd: torch.Tensor
    pose_names: list[str] = field(default_factory=list)
    map_names: list[str] = field(default_factory=list)

    @property
    def final(self) -> torch.Tensor:
        """The prediction used for evaluation: the last supervised pose (or the initial pose)."""
        return self.poses[-1] if self.poses else self.initial
