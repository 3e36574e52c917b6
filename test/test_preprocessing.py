"""Tests of the RGB-D crop, depth normalisation, point sampling and inverse mapping
(reference §3). The batched torch crop is checked pixel-for-pixel against the plain
numpy/cv2 oracle ``helpers/reference_crop.py``, which itself calls ``cv2.resize``."""

import math
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from kpfusion_ros.geometry import mirror_points_mm, project, uvd_nl_to_xyz_nl, xyz_nl_to_uvd_nl
from kpfusion_ros.preprocessing import (
    CropConfig,
    crop_bounds,
    crop_geometry,
    crop_hands,
    crop_matrix,
    depth_to_points,
    labels_from_joints,
    nearest_indices,
    normalize_depth,
    predictions_to_camera,
    sample_points,
)

sys.path.insert(0, str(Path(__file__).parent / "helpers"))
from reference_crop import reference_crop  # noqa: E402

H, W = 480, 640
CAM = np.array([615.0, 612.0, 318.5, 243.25])


def _frame(seed=0):
    """Random colour; depth = smooth surface 250–1100 mm with holes (0) and a few far pixels."""
    rng = np.random.default_rng(seed)
    color = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
    yy, xx = np.mgrid[0:H, 0:W]
    depth = 250 + 850 * (0.5 + 0.5 * np.sin(xx / 37.0) * np.cos(yy / 29.0))
    depth = np.round(depth + rng.integers(-20, 21, (H, W))).astype(np.float32)
    depth[rng.random((H, W)) < 0.05] = 0.0
    depth[rng.random((H, W)) < 0.01] = 3000.0
    return color, depth


def _lift(u, v, z, cam=CAM):
    fx, fy, cx, cy = cam
    return np.array([(u - cx) * z / fx, (v - cy) * z / fy, z])


# centres: middle, near borders, partly / mostly outside the image, near and far
CENTERS = np.stack(
    [
        _lift(320.3, 240.7, 520.0),
        _lift(5.0, 100.0, 400.0),  # left border, half outside
        _lift(630.0, 470.0, 300.0),  # bottom-right corner, close (big crop)
        _lift(-60.0, 200.0, 450.0),  # centre outside the image
        _lift(200.0, 30.0, 900.0),  # far, small crop
        _lift(410.9, 333.3, 700.5),
    ]
)


# ---------------------------------------------------------------------------------------
# nearest resize indices vs cv2
# ---------------------------------------------------------------------------------------


def test_nearest_indices_match_cv2_all_sizes():
    src_lens = np.arange(1, 420)
    for dst in (1, 2, 7, 64, 100, 127, 128):
        idx = nearest_indices(src_lens, np.full_like(src_lens, dst), 128)
        for s in src_lens:
            row = np.arange(s, dtype=np.float32)[None, :].repeat(2, 0)
            out = cv2.resize(row, (dst, 2), interpolation=cv2.INTER_NEAREST)[0].astype(np.int64)
            assert np.array_equal(idx[s - 1, :dst], out), (s, dst)
            assert (idx[s - 1, dst:] == -1).all()


def test_nearest_indices_match_cv2_2d_uint8_and_uint16():
    rng = np.random.default_rng(3)
    for (h, w), (dw, dh) in [((250, 301), (128, 106)), ((97, 41), (53, 128)), ((460, 460), (128, 128))]:
        img = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        dep = rng.integers(0, 65535, (h, w), dtype=np.uint16)
        ny = nearest_indices(h, dh, dh)[0]
        nx = nearest_indices(w, dw, dw)[0]
        assert np.array_equal(cv2.resize(img, (dw, dh), interpolation=cv2.INTER_NEAREST), img[ny][:, nx])
        assert np.array_equal(cv2.resize(dep, (dw, dh), interpolation=cv2.INTER_NEAREST), dep[ny][:, nx])


# ---------------------------------------------------------------------------------------
# bounds and M
# ---------------------------------------------------------------------------------------


def test_crop_bounds_and_matrix_square_case():
    cam = np.array([500.0, 500.0, 320.0, 240.0])
    b, z = crop_bounds([0.0, 0.0, 500.0], (250, 250, 250), cam)
    # u_c = 320, half-width 125·500/500 = 125 → [⌊195.5⌋, ⌊445.5⌋)
    assert b.tolist() == [[195, 445, 115, 365]]
    assert z.tolist() == [[375.0, 625.0]]
    M = crop_matrix([0.0, 0.0, 500.0], (250, 250, 250), cam)[0]
    s = 128 / 250
    assert np.allclose(M, [[s, 0, -195 * s], [0, s, -115 * s], [0, 0, 1]], atol=1e-12)


def test_crop_matrix_maps_box_corners_non_square():
    cam = np.array([600.0, 500.0, 320.0, 240.0])
    geo = crop_geometry([0.0, 0.0, 500.0], (250, 250, 250), cam, 128)
    x0, x1, y0, y1 = geo.bounds[0]
    assert (x1 - x0, y1 - y0) == (300, 250)
    # wider than tall: resized to (128, int(250·128/300)=106), pasted at y = ⌊64 − 53⌋ = 11
    assert geo.size[0].tolist() == [128, 106] and geo.offset[0].tolist() == [0, 11]
    s = 128 / 300
    corners = np.array([[x0, y0, 1], [x1, y0, 1], [x0, y1, 1], [x1, y1, 1]], float).T
    mapped = (geo.M[0] @ corners)[:2].T
    assert np.allclose(mapped, [[0, 11], [128, 11], [0, 11 + 250 * s], [128, 11 + 250 * s]], atol=1e-9)
    # taller than wide: swap fx, fy → size (106, 128), paste x = 11
    geo2 = crop_geometry([0.0, 0.0, 500.0], (250, 250, 250), cam[[1, 0, 2, 3]], 128)
    assert geo2.size[0].tolist() == [106, 128] and geo2.offset[0].tolist() == [11, 0]
    assert math.isclose(geo2.scale[0], 128 / 300)


def test_point_to_crop_pixel_and_back_within_1e4_mm():
    rng = np.random.default_rng(5)
    pts = rng.uniform([-150, -100, 350], [150, 100, 800], (6, 21, 3))
    center = pts.mean(1)
    cube = np.full((6, 3), 250.0)
    cam = np.broadcast_to(CAM, (6, 4))
    M = torch.from_numpy(crop_matrix(center, cube, cam))
    t = lambda a: torch.from_numpy(np.ascontiguousarray(a))
    xyz_nl = (t(pts) - t(center)[:, None]) / 125.0
    uvd = xyz_nl_to_uvd_nl(xyz_nl, t(center), M, t(cube), t(cam))
    # the crop pixel is M applied to the projection
    uv_full = project(t(pts), t(cam))
    uv_crop = uv_full * M[:, None, 0, 0:1] + M[:, None, :2, 2]
    assert torch.allclose((uvd[..., :2] + 1) * 64, uv_crop, atol=1e-9)
    back_mm = uvd_nl_to_xyz_nl(uvd, t(center), M, t(cube), t(cam)) * 125.0 + t(center)[:, None]
    assert (back_mm - t(pts)).abs().max().item() < 1e-4


# ---------------------------------------------------------------------------------------
# batched crop == oracle
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed,quirk,bgr", [(0, True, True), (1, False, False)])
def test_batched_crop_equals_reference_pixel_for_pixel(seed, quirk, bgr):
    color, depth = _frame(seed)
    mirror = np.array([False, True, False, True, False, True])
    cfg = CropConfig(max_value_quirk=quirk, bgr=bgr)
    batch = crop_hands(color, depth, CENTERS, CAM, cfg, generator=torch.Generator().manual_seed(0), mirror=mirror)
    assert batch.rgb.shape == (6, 3, 128, 128) and batch.depth.shape == (6, 1, 128, 128)
    assert batch.pcl.shape == (6, 1024, 3) and batch.M.shape == (6, 3, 3)
    pts, mask = depth_to_points(batch.depth[:, 0].double(), batch.center.double(), batch.M.double(),
                                batch.cube.double(), batch.cam.double())
    for k in range(6):
        ref = reference_crop(color, depth, CENTERS[k], CAM, cfg, mirror=bool(mirror[k]))
        assert batch.bounds[k].tolist() == ref["bounds"].tolist()
        assert np.array_equal(batch.rgb[k].numpy(), ref["rgb"]), k  # exact
        assert np.allclose(batch.depth[k, 0].numpy(), ref["depth"], atol=2e-6, rtol=0), k
        assert np.array_equal(batch.depth[k, 0].numpy() == 1.0, ref["depth"] >= 1 - 1e-6), k
        assert np.allclose(batch.M[k].double().numpy(), ref["M"], atol=1e-4)
        assert np.allclose(batch.center[k].numpy(), ref["center"], atol=1e-3)
        assert mask[k].sum().item() == len(ref["points"]) == batch.num_foreground[k].item()
        assert np.allclose(pts[k][mask[k]].numpy(), ref["points"], atol=1e-5), k
    # the frame really exercises the cases: padding, threshold, foreground
    assert (batch.num_foreground > 0).all()
    b = batch.bounds
    assert ((b[:, 0] < 0) | (b[:, 1] > W)).sum() >= 2 and (b[:, 3] > H).any()  # zero padding used
    assert (batch.depth == -1).any() and (batch.depth == 1).any()  # clamp to z_start, background


def test_batched_crop_mirror_equals_crop_of_flipped_frame():
    color, depth = _frame(2)
    g = lambda: torch.Generator().manual_seed(7)
    a = crop_hands(color, depth, CENTERS, CAM, generator=g(), mirror=np.ones(6, bool))
    c_m = mirror_points_mm(torch.from_numpy(CENTERS)[:, None], torch.from_numpy(CAM).expand(6, 4), W)[:, 0]
    b = crop_hands(color[:, ::-1].copy(), depth[:, ::-1].copy(), c_m.numpy(), CAM, generator=g())
    assert torch.equal(a.rgb, b.rgb) and torch.equal(a.depth, b.depth)
    assert torch.allclose(a.pcl, b.pcl, atol=1e-6) and torch.allclose(a.center, b.center)


def test_z_threshold_and_background_through_crop():
    # fronto-parallel layers: near plane at 300 mm (< z_start = 375), hand at 500, far at 700 (> z_end)
    color = np.zeros((H, W, 3), np.uint8)
    depth = np.full((H, W), 700.0, np.float32)
    depth[200:280, 280:360] = 500.0
    depth[200:280, 280:300] = 300.0
    batch = crop_hands(color, depth, [_lift(320, 240, 500.0)], CAM, CropConfig(max_value_quirk=False))
    d = batch.depth[0, 0]
    vals = set(np.round(d.unique().numpy(), 6).tolist())
    assert vals == {-1.0, 0.0, 1.0}  # 300 → z_start → −1, 500 → 0, 700 → 0 → background +1
    # with the quirk, the max of the crop (500, the farthest valid value) becomes background
    batch_q = crop_hands(color, depth, [_lift(320, 240, 500.0)], CAM, CropConfig(max_value_quirk=True))
    assert set(np.round(batch_q.depth[0, 0].unique().numpy(), 6).tolist()) == {-1.0, 1.0}


def test_normalize_depth_values():
    crop = torch.tensor([[[0.0, 400.0, 500.0], [600.0, 300.0, 575.0], [420.0, 610.0, 500.0]]])
    zc, cz = torch.tensor([500.0]), torch.tensor([250.0])
    d = normalize_depth(crop, zc, cz, max_value_quirk=False)
    exp = torch.tensor([[[1.0, -0.8, 0.0], [0.8, -1.0, 0.6], [-0.64, 0.88, 0.0]]])
    assert torch.allclose(d, exp, atol=1e-6)
    dq = normalize_depth(crop, zc, cz, max_value_quirk=True)
    exp[0, 2, 1] = 1.0  # 610 is the crop max → background
    assert torch.allclose(dq, exp, atol=1e-6)


def test_points_lie_on_the_surface():
    # plane at 480 mm in a disc of radius 40 px around (320, 240): every point has z_nl = −20/125
    color = np.zeros((H, W, 3), np.uint8)
    yy, xx = np.mgrid[0:H, 0:W]
    depth = np.where((xx - 320) ** 2 + (yy - 240) ** 2 < 40**2, 480.0, 0.0).astype(np.float32)
    c = _lift(320, 240, 500.0)
    batch = crop_hands(color, depth, [c], CAM, CropConfig(max_value_quirk=False), torch.Generator().manual_seed(0))
    p = batch.pcl[0].double()
    assert torch.allclose(p[:, 2], torch.full_like(p[:, 2], -20 / 125), atol=1e-6)
    uv = project(p[None] * 125 + torch.from_numpy(c)[None, None], torch.from_numpy(CAM)[None])[0]
    r = ((uv[:, 0] - 320) ** 2 + (uv[:, 1] - 240) ** 2).sqrt()
    # a crop pixel's point sits at its centre (c + 0.5)/s but its depth comes from source
    # index ⌊c/s⌋ (cv2 nearest = top-left): up to 0.5/s + 1 px per axis from the disc
    cell = 0.5 / batch.M[0, 0, 0].item() + 1.0
    assert 40 - 5 < r.max() < 40 + math.sqrt(2) * cell


def test_crop_hands_empty_and_degenerate():
    color, depth = _frame(0)
    b = crop_hands(color, depth, np.zeros((0, 3)), CAM)
    assert b.rgb.shape == (0, 3, 128, 128) and b.pcl.shape == (0, 1024, 3)
    # z = 0, and a centre so far that its bounds are empty (u_c = 318.0, half-width 0.008 px)
    b = crop_hands(color, depth, [[0.0, 0.0, 0.0], [-0.5 * 1e7 / CAM[0], 0.0, 1e7]], CAM)
    assert b.valid.tolist() == [False, False]
    assert (b.depth == 1).all() and (b.pcl == 0).all() and (b.rgb == 0).all()


# ---------------------------------------------------------------------------------------
# point sampling
# ---------------------------------------------------------------------------------------


def test_sample_points_multiplicity_rules():
    P, N = 200, 64
    ns = [5, 64, 150, 0, 1, 63]
    g = torch.Generator().manual_seed(0)
    mask = torch.zeros(len(ns), P, dtype=torch.bool)
    for k, n in enumerate(ns):
        mask[k, torch.randperm(P, generator=g)[:n]] = True
    pts = torch.arange(P, dtype=torch.float64).view(1, P, 1).expand(len(ns), P, 3).clone() + 1.0  # value = index + 1
    out = sample_points(pts, mask, N, torch.Generator().manual_seed(1))
    assert out.shape == (len(ns), N, 3)
    for k, n in enumerate(ns):
        if n == 0:
            assert (out[k] == 0).all()
            continue
        cnt = torch.bincount(out[k, :, 0].long() - 1, minlength=P)
        assert cnt.sum() == N
        assert (cnt[~mask[k]] == 0).all()  # only foreground points
        c = cnt[mask[k]]
        if n < N:
            assert set(c.unique().tolist()) <= {N // n, N // n + 1}
            assert (c == N // n + 1).sum() == N % n
        else:
            assert (c <= 1).all() and (c == 1).sum() == N  # N distinct points
    # output order is shuffled (not the tiled order): n = 5 → not sorted
    assert not torch.equal(out[0, :, 0], out[0, :, 0].sort().values)


def test_sample_points_deterministic_and_uniform():
    P, N = 30, 7
    mask = torch.zeros(2, P, dtype=torch.bool)
    mask[0, :5] = True  # n = 5 < N: 2 of 5 points get a second copy
    mask[1, :10] = True  # n = 10 ≥ N: 7 of 10 chosen
    pts = torch.arange(P, dtype=torch.float32).view(1, P, 1).expand(2, P, 3).clone()
    a = sample_points(pts, mask, N, torch.Generator().manual_seed(3))
    b = sample_points(pts, mask, N, torch.Generator().manual_seed(3))
    c = sample_points(pts, mask, N, torch.Generator().manual_seed(4))
    assert torch.equal(a, b) and not torch.equal(a, c)
    # distribution over 3000 draws (one batched call of 3000 rows per case)
    R = 3000
    g = torch.Generator().manual_seed(11)
    big = pts[:1].expand(R, P, 3)
    o0 = sample_points(big, mask[:1].expand(R, P), N, g)[..., 0].long()
    o1 = sample_points(big, mask[1:].expand(R, P), N, g)[..., 0].long()
    extra = torch.stack([(o0 == i).sum(1) for i in range(5)], 1)  # 1 or 2 copies
    assert set(extra.unique().tolist()) == {1, 2}
    p_extra = (extra == 2).double().mean(0)  # expected 2/5 each, sd ≈ 0.009
    assert (p_extra - 0.4).abs().max() < 0.05
    chosen = torch.stack([(o1 == i).sum(1) for i in range(10)], 1)
    assert (chosen <= 1).all()
    assert (chosen.double().mean(0) - 0.7).abs().max() < 0.05  # expected 7/10 each
    # positions are shuffled: point 0 appears in every slot
    assert (o1 == 0).double().mean(0).min() > 0.05


def test_crop_lifts_only_sampled_pixels_same_points_as_dense_lift_then_sample():
    """crop_hands samples pixel indices first and lifts only those; that must equal lifting
    every pixel (depth_to_points) and sampling with the same generator state."""
    color, depth = _frame(3)
    mirror = np.array([False, True, False, True, False, True])
    batch = crop_hands(color, depth, CENTERS, CAM, generator=torch.Generator().manual_seed(5), mirror=mirror)
    pts, mask = depth_to_points(batch.depth[:, 0], batch.center, torch.from_numpy(crop_matrix(
        batch.center.double().numpy(), batch.cube.double().numpy(), batch.cam.double().numpy())),
        batch.cube, batch.cam)
    dense = sample_points(pts, mask, 1024, torch.Generator().manual_seed(5))
    assert torch.equal(mask.sum(1), batch.num_foreground)
    assert (batch.num_foreground > 0).all() and (batch.num_foreground < 1024).any()  # both sampling regimes
    assert torch.allclose(batch.pcl, dense, atol=1e-6, rtol=0)
    # and the sampled points are foreground points of their crop
    for k in range(6):
        fg = pts[k][mask[k]]
        dist = torch.cdist(batch.pcl[k].double(), fg.double()).min(dim=1).values
        assert dist.max() < 1e-6, k


# ---------------------------------------------------------------------------------------
# labels, inverse mapping, mirroring
# ---------------------------------------------------------------------------------------


def _joints(seed, k=4):
    rng = np.random.default_rng(seed)
    base = rng.uniform([-200, -150, 350], [200, 150, 800], (k, 1, 3))
    return base + rng.uniform(-90, 90, (k, 21, 3))


def test_labels_and_predictions_round_trip_with_mirroring():
    color, depth = _frame(4)
    joints = _joints(0)
    mirror = np.array([False, True, True, False])
    # training parity: the centre is the mean of the (mirrored) joints, given in the real frame
    jt = torch.from_numpy(joints)
    camt = torch.from_numpy(CAM).expand(4, 4)
    jm = torch.where(torch.from_numpy(mirror).view(4, 1, 1), mirror_points_mm(jt, camt, W), jt)
    c_net = jm.mean(1, keepdim=True)
    c_real = torch.where(torch.from_numpy(mirror).view(4, 1, 1), mirror_points_mm(c_net, camt, W), c_net)[:, 0]
    cfg = CropConfig(dtype=torch.float64)
    batch = crop_hands(color, depth, c_real.numpy(), CAM, cfg, torch.Generator().manual_seed(0), mirror=mirror)
    assert torch.allclose(batch.center, c_net[:, 0], atol=1e-9)
    xyz_nl, uvd_nl = labels_from_joints(jt, batch)
    assert torch.allclose(xyz_nl.mean(1), torch.zeros(4, 3, dtype=torch.float64), atol=1e-9)
    # uvd_nl is the crop pixel of the (mirrored) joint: M · project
    uv_crop = project(jm, camt) @ batch.M[:, :2, :2].transpose(1, 2) + batch.M[:, None, :2, 2]
    assert torch.allclose((uvd_nl[..., :2] + 1) * 64, uv_crop, atol=1e-9)
    assert torch.allclose(uvd_nl_to_xyz_nl(uvd_nl, batch.center, batch.M, batch.cube, batch.cam), xyz_nl, atol=1e-9)
    xyz_m, uv = predictions_to_camera(xyz_nl, batch)
    assert (xyz_m * 1000 - jt).abs().max() < 1e-6  # mm
    assert (uv - project(jt, camt)).abs().max() < 1e-6  # px, real (un-mirrored) image


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    color, depth = _frame(5)
    mirror = np.array([False, True, False, True, False, True])
    a = crop_hands(color, depth, CENTERS, CAM, mirror=mirror)
    b = crop_hands(torch.from_numpy(color).cuda(), torch.from_numpy(depth).cuda(), CENTERS, CAM, mirror=mirror,
                   generator=torch.Generator(device="cuda").manual_seed(0))
    assert torch.equal(a.rgb, b.rgb.cpu()) and torch.allclose(a.depth, b.depth.cpu(), atol=1e-6)
    assert b.pcl.is_cuda and b.pcl.shape == (6, 1024, 3)
    pa, ma = depth_to_points(a.depth[:, 0], a.center, a.M, a.cube, a.cam)
    pb, mb = depth_to_points(b.depth[:, 0], b.center, b.M, b.cube, b.cam)
    assert torch.equal(ma, mb.cpu()) and torch.allclose(pa[ma], pb[mb].cpu(), atol=1e-5)


def test_crop_config_for_model_follows_the_model():
    from dataclasses import replace

    from kpfusion_ros.model import preset
    from kpfusion_ros.preprocessing import CUBE_MM

    lite = preset("lite")
    c = CropConfig.for_model(lite)
    assert (c.crop_size, c.num_points, c.bgr, c.cube_mm) == (lite.crop_size, lite.num_points, True, (CUBE_MM,) * 3)
    assert CropConfig.for_model(lite, 280).cube_mm == (280.0, 280.0, 280.0)
    assert CropConfig.for_model(lite, (250, 260, 270), clamp_points=True).clamp_points
    assert not CropConfig.for_model(replace(lite, rgb_input="rgb01")).bgr
    with pytest.raises(ValueError, match="rgb_input"):
        CropConfig.for_model(replace(lite, rgb_input="hsv"))


def test_crop_accepts_a_3x3_camera_matrix():
    from kpfusion_ros.camera import CameraIntrinsics

    color, depth = _frame(2)
    a = crop_hands(color, depth, CENTERS, CAM, generator=torch.Generator().manual_seed(0))
    b = crop_hands(color, depth, CENTERS, CameraIntrinsics.of(CAM).matrix(), generator=torch.Generator().manual_seed(0))
    for x, y in zip(a.network_inputs(), b.network_inputs()):
        assert torch.equal(x, y)
