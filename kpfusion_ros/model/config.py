"""Typed configuration of the Keypoint-Fusion network and its baselines.

One source of defaults: the field defaults of :class:`ModelConfig` ARE the
``official`` configuration (the authors' computation incl. its quirks, reference
§0/§1/§7). Every other preset is derived from it with :func:`dataclasses.replace`
in :func:`preset`.

Quirk switches (reference §7), all ``True`` in ``official``:

* ``heatmap_from_xyz``  — the Gaussian heatmap fed to W_hm uses the x,y of the
  xyz_nl joints as if they were uv_nl (reference §1.4(c)1). ``False`` projects
  the joints to uvd_nl first (paper Eq. (1)).
* ``gam_joints_as_uvd`` — the GAM treats the xyz_nl joints as uvd_nl and lifts
  them again (reference §1.4(c)2). ``False`` uses the xyz_nl joints (Eq. (2)).
* ``gam_plus_one``      — GAM = 1/(γd²+1) (code) vs 1/(γd²) (paper Eq. (2);
  with ``False`` a 1e-6 floor avoids division by zero).
* ``cross_same_input``  — the authors' cross-attention decoder feeds the same
  inputs to each of its layers and keeps the last (reference §1.4(d)), so only
  one layer is effective; we then build only that one layer (imported from
  ``crossTR.decoder.3``). ``False`` chains ``cross_layers`` layers.
* ``tr_ffn = 16``       — BERT FFN width 4·heads (reference §7.7).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields
from typing import Any

ARCHS = ("kpfusion", "depth_only", "rgb_only", "dense_fusion")


@dataclass
class ModelConfig:
    # --- what to build -----------------------------------------------------
    arch: str = "kpfusion"
    num_joints: int = 21
    crop_size: int = 128            # input S×S; feature maps are S/4
    num_points: int = 1024          # N (informational: the model accepts any N)
    # --- backbones (reference §1.1) -----------------------------------------
    trunk_widths: tuple = (64, 128, 256, 512)   # ResNet-18 stage widths
    trunk_blocks: tuple = (2, 2, 2, 2)
    feature_dim: int = 128          # C of F_d / F_rgb and of every keypoint feature
    rgb_input: str = "bgr01"        # documented input convention: BGR in [0,1], no mean/std
    # --- AWR (reference §1.2) -----------------------------------------------
    awr_kernel: float = 0.8         # K in nl units
    # --- stages --------------------------------------------------------------
    num_stages: int = 2
    # --- depth KFAM (reference §1.3, §1.4(a); Eq. (4)) ----------------------
    knn: int = 4
    fa_radii: tuple = (0.1, 0.2, 0.4)
    fa_samples: int = 64
    # --- transformers (reference §1.4(b,d,e)) --------------------------------
    tr_layers: int = 4
    tr_heads: int = 4
    tr_ffn: int = 16
    tr_dropout: float = 0.1
    tr_max_positions: int = 512
    cross_layers: int = 4
    cross_heads: int = 4
    cross_ffn: int = 128
    cross_same_input: bool = True
    # --- RGB KFAM (reference §1.4(c); Eqs. (1)-(3)) --------------------------
    gam_gamma: float = 10.0
    gam_plus_one: bool = True
    gam_joints_as_uvd: bool = True
    heatmap_from_xyz: bool = True
    heatmap_std: float = 0.8
    heatmap_sigma: float = 1.0
    # --- ablations (paper Table 5) -------------------------------------------
    use_hwm: bool = True
    use_gam: bool = True
    use_pcl: bool = True
    use_rgb_proj: bool = True
    use_refine: bool = True
    # --- dense-fusion baseline (paper Table 4) -------------------------------
    dense_layers: int = 1
    dense_heads: int = 4
    dense_ffn: int = 128

    def __post_init__(self) -> None:
        self.trunk_widths = tuple(int(w) for w in self.trunk_widths)
        self.trunk_blocks = tuple(int(b) for b in self.trunk_blocks)
        self.fa_radii = tuple(float(r) for r in self.fa_radii)
        if self.arch not in ARCHS:
            raise ValueError(f"ModelConfig.arch must be one of {ARCHS}, got {self.arch!r}")
        if self.arch == "kpfusion" and not 1 <= self.num_stages <= 3:
            raise ValueError(f"num_stages must be 1..3, got {self.num_stages}")
        if self.arch == "kpfusion" and not (self.use_hwm or self.use_gam or self.use_pcl or self.use_rgb_proj):
            raise ValueError("kpfusion needs at least one KFAM (use_hwm/use_gam/use_pcl/use_rgb_proj); "
                             "use arch='depth_only' for the Table 5 ID 0 baseline")
        if self.crop_size % 32:
            raise ValueError(f"crop_size must be a multiple of 32, got {self.crop_size}")
        if len(self.trunk_widths) != 4 or len(self.trunk_blocks) != 4:
            raise ValueError("trunk_widths and trunk_blocks need 4 entries")
        if self.feature_dim % self.tr_heads or self.feature_dim % self.cross_heads:
            raise ValueError("feature_dim must be divisible by the number of heads")

    # convenience --------------------------------------------------------------
    @property
    def feature_size(self) -> int:
        """Side of the feature maps (output stride 4)."""
        return self.crop_size // 4

    @property
    def use_rgb_kfam(self) -> bool:
        return self.use_hwm or self.use_gam

    @property
    def use_depth_kfam(self) -> bool:
        return self.use_pcl or self.use_rgb_proj

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        for k, v in d.items():
            if isinstance(v, tuple):
                d[k] = list(v)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ModelConfig":
        names = {f.name for f in fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown ModelConfig fields: {sorted(unknown)}")
        return cls(**d)


def _official() -> ModelConfig:
    return ModelConfig()


def _fixed() -> ModelConfig:
    """Follows the paper where the code differs (reference §7.3, 7.7, 7.8, §1.4(c))."""
    return dataclasses.replace(
        ModelConfig(), tr_ffn=512, cross_same_input=False, heatmap_from_xyz=False,
        gam_joints_as_uvd=False)


def _lite() -> ModelConfig:
    """CPU/embedded size: narrow trunk (3/8 of the width), 64-d features, N=512, 32 FA samples,
    1 stage, paper geometry (no quirks). Its parameters, FLOPs and latency: ``kpfusion-bench-model``,
    committed in ``benchmarks/model_cpu.json``."""
    return dataclasses.replace(
        ModelConfig(), trunk_widths=(24, 48, 96, 192), feature_dim=64, num_points=512,
        fa_samples=32, num_stages=1, tr_layers=2, tr_ffn=128, cross_layers=1,
        cross_ffn=64, cross_same_input=False, heatmap_from_xyz=False, gam_joints_as_uvd=False,
        dense_ffn=64)


PRESETS = {
    "official": _official,
    "official_1stage": lambda: dataclasses.replace(ModelConfig(), num_stages=1),
    "official_3stage": lambda: dataclasses.replace(ModelConfig(), num_stages=3),
    "fixed": _fixed,
    "lite": _lite,
    "depth_only": lambda: dataclasses.replace(ModelConfig(), arch="depth_only"),
    "rgb_only": lambda: dataclasses.replace(ModelConfig(), arch="rgb_only"),
    "dense_fusion": lambda: dataclasses.replace(ModelConfig(), arch="dense_fusion"),
}


def preset(name: str, **overrides) -> ModelConfig:
    """A named configuration (see :data:`PRESETS`) with optional field overrides."""
    if name not in PRESETS:
        raise KeyError(f"unknown preset {name!r}; known: {sorted(PRESETS)}")
    cfg = PRESETS[name]()
    return dataclasses.replace(cfg, **overrides) if overrides else cfg
