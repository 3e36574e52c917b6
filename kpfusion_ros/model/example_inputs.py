"""Example network inputs: deterministic, of the right shapes and conventions (tests, benchmarks).

Not rendered frames (that is :mod:`kpfusion_ros.data.synthetic`): a camera (fx = fy = 600,
cx = 320, cy = 240) looks at a hand-sized blob centred near 500 mm; the crop matrix M maps the
projected square of the default crop cube (:data:`~kpfusion_ros.preprocessing.CUBE_MM`) to the
crop. The depth crop is a sphere-ish bump (normalised, background +1), the point cloud is
lifted from it.
"""

from __future__ import annotations

import torch

from ..geometry import uvd_nl_to_xyz_nl
from ..preprocessing import CUBE_MM
from .config import ModelConfig


def example_inputs(cfg: ModelConfig, batch: int = 1, seed: int = 0, device="cpu") -> dict:
    """Keyword arguments of the forward pass (rgb, depth, pcl, center, M, cube, cam) for ``batch`` crops."""
    g = torch.Generator().manual_seed(seed)
    S, N = cfg.crop_size, cfg.num_points
    center = torch.tensor([[0.0, 0.0, 500.0]]).repeat(batch, 1)
    center[:, :2] += (torch.rand(batch, 2, generator=g) - 0.5) * 40
    cube = torch.full((batch, 3), CUBE_MM)
    cam = torch.tensor([[600.0, 600.0, 320.0, 240.0]]).repeat(batch, 1)
    uc = center[:, 0] * 600 / center[:, 2] + 320
    vc = center[:, 1] * 600 / center[:, 2] + 240
    s = S / (CUBE_MM * 600 / center[:, 2])
    M = torch.zeros(batch, 3, 3)
    M[:, 0, 0] = s
    M[:, 1, 1] = s
    M[:, 0, 2] = S / 2 - s * uc
    M[:, 1, 2] = S / 2 - s * vc
    M[:, 2, 2] = 1
    c = (torch.arange(S) + 0.5) / S * 2 - 1
    yy, xx = torch.meshgrid(c, c, indexing="ij")
    r2 = (xx ** 2 + yy ** 2).unsqueeze(0) + 0.05 * torch.rand(batch, S, S, generator=g)
    depth = torch.where(r2 < 0.36, -0.5 + r2, torch.ones_like(r2)).unsqueeze(1)
    fg = (depth[:, 0] < 0.99).reshape(batch, -1)
    uvd = torch.stack([xx.reshape(-1).expand(batch, -1), yy.reshape(-1).expand(batch, -1),
                       depth.reshape(batch, -1)], -1)
    pcl = torch.zeros(batch, N, 3)
    for b in range(batch):  # loop over the batch only (test data)
        idx = fg[b].nonzero().squeeze(1)
        pick = idx[torch.randint(len(idx), (N,), generator=g)]
        pcl[b] = uvd_nl_to_xyz_nl(uvd[b:b + 1, pick], center[b:b + 1], M[b:b + 1], cube[b:b + 1],
                                  cam[b:b + 1], crop_size=S)[0]
    rgb = torch.rand(batch, 3, S, S, generator=g)
    out = dict(rgb=rgb, depth=depth, pcl=pcl, center=center, M=M, cube=cube, cam=cam)
    return {k: v.to(device) for k, v in out.items()}
