"""Tests of the geometry helpers added for preprocessing (mirroring, crop intrinsics) and
the uvd_nl ↔ xyz_nl round trip they rely on (reference §1.2, §3)."""

import numpy as np
import torch

from kpfusion_ros.geometry import (
    apply_homography,
    crop_intrinsics,
    mirror_points_mm,
    mirror_u,
    project,
    uvd_nl_to_xyz_nl,
    xyz_nl_to_uvd_nl,
)
from kpfusion_ros.preprocessing import crop_matrix

CAM = torch.tensor([[615.0, 612.0, 318.5, 243.25]], dtype=torch.float64)


def _rand_points(b, p, seed=0):
    g = torch.Generator().manual_seed(seed)
    xyz = torch.rand(b, p, 3, generator=g, dtype=torch.float64) * torch.tensor([400.0, 300.0, 600.0]) - torch.tensor(
        [200.0, 150.0, -300.0]
    )
    return xyz  # z in [300, 900] mm


def test_mirror_u_values_and_involution():
    uv = torch.tensor([[0.0, 5.0], [639.0, 7.0], [100.25, 1.0]], dtype=torch.float64)
    m = mirror_u(uv, 640)
    assert torch.equal(m, torch.tensor([[639.0, 5.0], [0.0, 7.0], [538.75, 1.0]], dtype=torch.float64))
    assert torch.equal(mirror_u(m, 640), uv)


def test_mirror_points_formula_and_involution():
    xyz = _rand_points(1, 50)
    W = 640
    m = mirror_points_mm(xyz, CAM, W)
    fx, cx = CAM[0, 0], CAM[0, 2]
    expected_x = (W - 1 - 2 * cx) * xyz[..., 2] / fx - xyz[..., 0]
    assert torch.allclose(m[..., 0], expected_x, atol=1e-9)
    assert torch.allclose(m[..., 1:], xyz[..., 1:], atol=1e-9)
    assert torch.allclose(mirror_points_mm(m, CAM, W), xyz, atol=1e-9)
    # projections are mirrored exactly: u' = W - 1 - u
    assert torch.allclose(project(m, CAM)[..., 0], W - 1 - project(xyz, CAM)[..., 0], atol=1e-9)


def test_crop_intrinsics_equal_M_after_projection():
    xyz = _rand_points(1, 30, seed=1)
    center = xyz.mean(1)
    M = torch.from_numpy(crop_matrix(center.numpy(), (250, 250, 250), CAM.numpy()))
    lhs = project(xyz, crop_intrinsics(M, CAM))
    rhs = apply_homography(M, project(xyz, CAM))
    assert torch.allclose(lhs, rhs, atol=1e-9)


def test_uvd_xyz_nl_round_trip_float64():
    xyz = _rand_points(2, 21, seed=2)
    center = xyz.mean(1)
    cube = torch.full((2, 3), 250.0, dtype=torch.float64)
    cam = CAM.expand(2, 4)
    M = torch.from_numpy(crop_matrix(center.numpy(), cube.numpy(), cam.numpy()))
    xyz_nl = (xyz - center[:, None]) / 125.0
    uvd = xyz_nl_to_uvd_nl(xyz_nl, center, M, cube, cam)
    back = uvd_nl_to_xyz_nl(uvd, center, M, cube, cam)
    assert (back - xyz_nl).abs().max().item() * 125.0 < 1e-4  # mm
