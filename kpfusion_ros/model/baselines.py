"""Baselines sharing the backbone code (paper Tables 3 and 4).

* :class:`DepthOnly` — depth U-Net + AWR (Table 3 row "2D CNN baseline" / Table 5 ID 0).
* :class:`RGBOnly` — RGB U-Net + AWR. AWR needs a d coordinate per pixel and a foreground
  mask; as the authors' RGB auxiliary branch does (reference §1.2), these come from the
  DEPTH image, so the model takes the depth too (only for decoding; no depth features).
* :class:`DenseFusion` — Table 4's "dense fusion baseline": the KFAMs are removed and the
  cross-modal interaction runs densely over all S×S feature pixels. Our design (the paper
  gives none): one (``dense_layers``) cross-attention decoder layer with the S² depth-feature
  tokens as queries and the S² RGB-feature tokens as keys/values (learned per-pixel position
  embeddings, post-LN, ReLU FFN — the same layer as the inter-modal decoder), reshaped back
  to a map, then the backbone-style 1×1 heads (offsets/closeness/weights) and AWR decoding
  give the pose. ``poses`` holds the fused pose (xyz_nl).
"""

from __future__ import annotations

import torch.nn as nn

from .awr import decode_awr
from .config import ModelConfig
from .kpfusion import _Base, make_backbone
from .output import KPFusionOutput
from .transformer import CrossAttentionDecoderLayer


class DepthOnly(_Base):
    def __init__(self, cfg: ModelConfig):
        super().__init__(cfg)
        self.backbone_d = make_backbone(cfg, 1)

    def forward(self, rgb, depth, pcl, center, M, cube, cam) -> KPFusionOutput:
        p_d, _ = self.backbone_d(depth)
        uvd = decode_awr(p_d, depth, self.config.awr_kernel)
        return KPFusionOutput([p_d], [], [], self.to_xyz(uvd, center, M, cube, cam), uvd, [], ["depth"])


class RGBOnly(_Base):
    def __init__(self, cfg: ModelConfig):
        super().__init__(cfg)
        self.backbone_rgb = make_backbone(cfg, 3)

    def forward(self, rgb, depth, pcl, center, M, cube, cam) -> KPFusionOutput:
        p_rgb, _ = self.backbone_rgb(rgb)
        uvd = decode_awr(p_rgb, depth, self.config.awr_kernel)
        return KPFusionOutput([p_rgb], [], [], self.to_xyz(uvd, center, M, cube, cam), uvd, [], ["rgb"])


class DenseFusion(_Base):
    def __init__(self, cfg: ModelConfig):
        super().__init__(cfg)
        C, J, S = cfg.feature_dim, cfg.num_joints, cfg.feature_size
        self.backbone_d = make_backbone(cfg, 1)
        self.backbone_rgb = make_backbone(cfg, 3)
        self.dense = nn.ModuleList([CrossAttentionDecoderLayer(C, cfg.dense_heads, cfg.dense_ffn, S * S,
                                                               cfg.tr_dropout) for _ in range(cfg.dense_layers)])
        self.head = nn.Conv2d(C, 5 * J, 1)
        nn.init.normal_(self.head.weight, 0, 0.001)
        nn.init.zeros_(self.head.bias)

    def forward(self, rgb, depth, pcl, center, M, cube, cam) -> KPFusionOutput:
        p_d, f_d = self.backbone_d(depth)
        p_rgb, f_rgb = self.backbone_rgb(rgb)
        B, C, S, _ = f_d.shape
        q = f_d.flatten(2).transpose(1, 2)
        kv = f_rgb.flatten(2).transpose(1, 2)
        for layer in self.dense:
            q = layer(q, kv)
        p_f = self.head(q.transpose(1, 2).reshape(B, C, S, S))
        k = self.config.awr_kernel
        init_uvd = decode_awr(p_d, depth, k)
        fused = self.to_xyz(decode_awr(p_f, depth, k), center, M, cube, cam)
        return KPFusionOutput([p_d, p_rgb, p_f], [fused], [], self.to_xyz(init_uvd, center, M, cube, cam),
                              init_uvd, ["dense.final"], ["depth", "rgb", "dense"])
