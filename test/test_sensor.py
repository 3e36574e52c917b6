"""Depth / colour sensor models (kpfusion_ros.data.synthetic.sensor): laws, geometry, determinism, crops.

Scenes are analytic (planes, steps, bars as z / normal / albedo maps), so every expected number
comes from the model's stated law: σ_z = z²·σ_d/(f·b) (stereo, structured light), σ0 + rel·z
(ToF), disparity steps of 1/32 px, occlusion bands of f·|b|·(1/z_n − 1/z_f) px on the side away
from the projector.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from kpfusion_ros.data.synthetic import sensor as S
from kpfusion_ros.tools import sensor_stats as T

DEFECTS = ("sigma_d", "sigma0", "sigma_rel", "wobble", "band_jitter", "edge_drop", "rim", "fly", "fatten", "thin",
           "thin_drop", "min_return", "spec_drop", "dropout", "salt", "dx", "dy", "border", "blur_len", "defocus",
           "read_noise", "shot_noise")


def params(preset, n=1, seed=0, **over):
    """n frames of ``preset`` with every defect off except those in ``over`` (name → value)."""
    g = torch.Generator().manual_seed(seed)
    rows = []
    for _ in range(n):
        p = S.sample_sensor_params(g, preset)
        for k in DEFECTS:
            p[k] = 0
        p["max_incidence"] = 90.0
        p.update(over)
        rows.append(p)
    return S.stack_sensor_params(rows)


def scene(z, albedo=1.0, normal=None):
    """z (B×H×W) → (z, normals facing the camera, grey albedo)."""
    B, H, W = z.shape
    if normal is None:
        normal = torch.zeros(B, H, W, 3)
        normal[..., 2] = -1.0
    alb = torch.as_tensor(albedo, dtype=torch.float32)
    alb = alb.expand(B, H, W).unsqueeze(-1).expand(B, H, W, 3).clone() if alb.dim() <= 3 else alb
    return z, normal, alb


def camera(fx, W, H, B=1):
    return torch.tensor([[fx, fx, (W - 1) / 2, (H - 1) / 2]] * B)


def random_scene(B=3, H=120, W=240, seed=0):
    """A slanted wall with random boxes and discs in front (z, normal, albedo), deterministic."""
    g = torch.Generator().manual_seed(seed)
    vv, uu = torch.meshgrid(torch.arange(H, dtype=torch.float32), torch.arange(W, dtype=torch.float32), indexing="ij")
    z = (900.0 + 1.5 * uu + 0.5 * vv).expand(B, H, W).clone()
    alb = torch.rand(B, 1, 1, 3, generator=g).expand(B, H, W, 3).clone() * 0.6 + 0.3
    for b in range(B):
        for _ in range(6):
            cu, cv = torch.rand(2, generator=g) * torch.tensor([W, H])
            r = 6 + 20 * float(torch.rand(1, generator=g))
            zz = 350 + 500 * float(torch.rand(1, generator=g))
            if float(torch.rand(1, generator=g)) < 0.5:
                m = ((uu - cu) ** 2 + (vv - cv) ** 2) < r * r
            else:
                m = ((uu - cu).abs() < r) & ((vv - cv).abs() < 0.6 * r)
            z[b][m] = torch.minimum(z[b][m], torch.full_like(z[b][m], zz))
            alb[b][m] = float(torch.rand(1, generator=g)) * 0.9 + 0.05
    z[:, :, :8] = float("inf")  # no surface
    normal = torch.zeros(B, H, W, 3)
    normal[..., 2] = -1.0
    normal[..., 0] = -0.3 * (z < 880).float()
    normal = normal / normal.norm(dim=-1, keepdim=True)
    return z, normal, alb


# --------------------------------------------------------------------------- noise maps


def test_counter_noise_statistics_and_crop_invariance():
    key = torch.tensor([1, 2, 3, 2**32 - 1])
    u, v = S.pixel_coords(4, 128, 128, (-40, 17))
    x = S.noise_uniform(key, 0, u, v)
    assert 0 < float(x.min()) and float(x.max()) < 1
    assert abs(float(x.mean()) - 0.5) < 0.005 and abs(float(x.std()) - math.sqrt(1 / 12)) < 0.003
    n = S.noise_normal(key, 1, u, v)
    assert abs(float(n.mean())) < 0.02 and abs(float(n.std()) - 1.0) < 0.02
    assert abs(float((n[..., 1:] * n[..., :-1]).mean())) < 0.02  # neighbours independent
    assert abs(float((n * S.noise_normal(key, 2, u, v)).mean())) < 0.02  # streams independent
    assert not torch.equal(x[0], x[1])  # keys differ
    # a window's noise is the full map's noise at the same absolute pixels
    u2, v2 = S.pixel_coords(4, 30, 50, (-10, 40))
    assert torch.equal(S.noise_uniform(key, 0, u2, v2), x[:, 23:53, 30:80])
    sm = S.noise_smooth(key, 5, u, v, torch.full((4,), 8.0))
    sm2 = S.noise_smooth(key, 5, u2, v2, torch.full((4,), 8.0))
    assert torch.equal(sm2, sm[:, 23:53, 30:80])
    assert float((sm[..., 1:] - sm[..., :-1]).abs().mean()) < 0.05  # smooth
    # thresholds give the requested area fraction
    for frac in (0.01, 0.05, 0.3):
        got = float((sm < S._smooth_threshold(torch.tensor(frac))).float().mean())
        assert abs(got - frac) < 0.5 * frac + 0.005, (frac, got)


# --------------------------------------------------------------------------- noise and quantisation laws


@pytest.mark.parametrize("preset,z0,over,law", [
    ("d435", 1000.0, dict(sigma_d=0.08), "tri"),
    ("d435", 2000.0, dict(sigma_d=0.08), "tri"),
    ("sr300", 1000.0, dict(sigma_d=0.012), "tri"),
    ("azure_kinect", 2000.0, dict(sigma0=1.5, sigma_rel=0.001), "tof"),
])
def test_depth_noise_follows_the_preset_law(preset, z0, over, law):
    H = W = 200
    P = params(preset, **over)
    m = S.get_sensor(preset)
    z, nrm, alb = scene(torch.full((1, H, W), z0))
    d = S.simulate_depth(z, nrm, alb, camera(m.native_fx, W, H), P).double()
    assert (d > 0).all()
    if law == "tri":
        fb = m.native_fx * abs(float(P["baseline_mm"][0]))
        sigma = z0 ** 2 * over["sigma_d"] / fb
        q = z0 ** 2 * m.disparity_step_px / fb  # depth step of the disparity quantisation
    else:
        sigma = over["sigma0"] + over["sigma_rel"] * z0
        q = 0.0
    expected = math.sqrt(sigma ** 2 + q ** 2 / 12 + 1 / 12)  # + 1-mm rounding
    got = float((d - z0).std())
    assert abs(got - expected) < 0.06 * expected, (got, expected)
    assert abs(float((d - z0).mean())) < 0.1 * expected + 0.1


def test_stereo_disparity_quantisation_grows_as_z_squared():
    H, W = 40, 400
    m = S.get_sensor("d435")
    P = params("d435")  # noise off: only the 1/32 px disparity steps and 1 mm rounding remain
    fb = m.native_fx * float(P["baseline_mm"][0])
    q = m.disparity_step_px
    for z_lo, z_hi in ((1400.0, 1600.0), (2800.0, 3200.0)):
        z = torch.linspace(z_lo, z_hi, W).view(1, 1, W).expand(1, H, W).clone()
        d = S.simulate_depth(*scene(z), camera(m.native_fx, W, H), P)
        vals = np.unique(d.numpy())
        k = np.arange(int(fb / (q * z_hi)) - 1, int(fb / (q * z_lo)) + 2)
        allowed = set(np.round(fb / (k * q)).astype(int).tolist())
        assert set(vals.tolist()) <= allowed  # every value is a quantised disparity
        zc = 0.5 * (z_lo + z_hi)
        step = float(np.median(np.diff(vals)))
        assert abs(step - zc ** 2 * q / fb) < 0.12 * zc ** 2 * q / fb + 0.5, (step, zc ** 2 * q / fb)
    # near: steps below 1 mm, every integer appears
    z = torch.linspace(500.0, 520.0, W).view(1, 1, W).expand(1, H, W).clone()
    vals = np.unique(S.simulate_depth(*scene(z), camera(m.native_fx, W, H), P).numpy())
    assert np.array_equal(vals, np.arange(vals.min(), vals.max() + 1))


# --------------------------------------------------------------------------- occlusion band


def step_scene(z_near, z_far, H=40, W=300, c0=100, c1=170):
    z = torch.full((1, H, W), z_far)
    z[:, :, c0:c1] = z_near
    return z


@pytest.mark.parametrize("preset,side", [("sr300", "right"), ("d435", "left"), ("d415", "left"),
                                         ("azure_kinect", "left")])
@pytest.mark.parametrize("z_near,z_far", [(550.0, 900.0), (600.0, 1400.0)])
def test_invalid_band_side_and_width(preset, side, z_near, z_far):
    fx, c0, c1 = 300.0, 100, 170
    P = params(preset)
    b = float(P["baseline_mm"][0])
    d = S.simulate_depth(*scene(step_scene(z_near, z_far, c0=c0, c1=c1)), camera(fx, 300, 40), P)[0]
    width = fx * abs(b) * (1 / z_near - 1 / z_far)
    assert (side == "right") == (b < 0)
    zero_cols = torch.nonzero((d == 0).all(0)).squeeze(1)
    assert (d == 0).any(0).eq((d == 0).all(0)).all()  # the same in every row (no jitter)
    if side == "right":
        assert int(zero_cols.min()) == c1 and (zero_cols < c1 + 2 + width).all()
    else:
        assert int(zero_cols.max()) == c0 - 1 and (zero_cols > c0 - 2 - width).all()
    assert width - 1.05 <= len(zero_cols) <= width, (len(zero_cols), width)  # pixel centres inside the band
    assert (d[:, c0:c1] == z_near).all()  # the foreground itself is whole


def test_band_jitter_makes_a_ragged_edge_within_bounds():
    fx = 300.0
    P = params("sr300", band_jitter=3.0)
    b = abs(float(P["baseline_mm"][0]))
    d = S.simulate_depth(*scene(step_scene(400.0, 900.0, H=200)), camera(fx, 300, 200), P)[0]
    width = fx * b * (1 / 400 - 1 / 900)
    runs = (d[:, 170:] == 0).int().cumprod(1).sum(1).float()  # zeros right of the foreground, per row
    assert runs.min() >= width - 3.0 - 1.1 and runs.max() <= width
    assert runs.std() > 0.5  # ragged


def test_d435_left_invalid_band_at_the_image_border():
    H, W, fx, zf = 20, 200, 300.0, 1000.0
    P = params("d435", border=1.0)
    b = float(P["baseline_mm"][0])
    d = S.simulate_depth(*scene(torch.full((1, H, W), zf)), camera(fx, W, H), P)[0]
    n = int((d == 0).all(0).sum())
    assert abs(n - fx * b / zf) <= 1 and (d[:, :n] == 0).all() and (d[:, n:] > 0).all()
    # a crop away from the left edge has no band
    d2 = S.simulate_depth(*scene(torch.full((1, H, 60), zf)), camera(fx, W, H), P, origin=(50, 0), full_width=W)
    assert (d2 > 0).all()


# --------------------------------------------------------------------------- edges, thin structures, holes


def test_flying_pixels_only_at_edges():
    m = S.get_sensor("azure_kinect")
    P = params("azure_kinect", fly=1.0, sigma0=0.5)
    z = step_scene(1000.0, 2000.0, H=60)
    d = S.simulate_depth(*scene(z), camera(m.native_fx, 300, 60), P)[0].double()
    mid = (d > 1020) & (d < 1980)
    cols = torch.nonzero(mid.any(0)).squeeze(1).tolist()
    assert cols and set(cols) <= {99, 100, 169, 170}  # the pixels either side of the two edges
    edge_px = d[:, [169, 170]]  # the right edge (the band is on the left)
    assert float(((edge_px > 1020) & (edge_px < 1980)).float().mean()) > 0.9
    assert float(mid[:, :95].float().sum() + mid[:, 105:165].float().sum()) == 0


def test_rim_on_the_far_side_only():
    fx = S.SR300.native_fx
    P = params("sr300", rim=3.0)
    d = S.simulate_depth(*scene(step_scene(400.0, 800.0, H=100)), camera(fx, 300, 100), P)[0]
    assert (d[:, 100:170] == 400).all()  # foreground intact
    left = (d[:, 80:100] == 0).int().flip(1).cumprod(1).sum(1)  # invalid run just left of the foreground
    assert left.min() >= 1 and left.max() <= 5 and (d[:, :90] > 0).all()


def test_thin_structures_vanish_at_range():
    m = S.get_sensor("d435")
    P = params("d435", thin=7.0, thin_drop=1.0)
    H, W, f = 40, 400, m.native_fx
    for z_bar, gone in ((400.0, False), (1500.0, True)):
        z = torch.full((1, H, W), 2500.0)
        half = 0.5 * 12.0 * f / z_bar  # a 12 mm wide bar: 12.7 px at 0.4 m, 3.4 px at 1.5 m
        uu = torch.arange(W, dtype=torch.float32)
        z[:, :, (uu - 200).abs() <= half] = z_bar
        d = S.simulate_depth(*scene(z), camera(f, W, H), P)[0]
        bar = d[10:30, 200]
        assert bool((bar == 0).all()) if gone else bool((bar > 0).all() and (bar - z_bar).abs().max() <= 1)


def test_stereo_fattening_widens_the_foreground():
    m = S.get_sensor("d435")
    P = params("d435", fatten=2.0)
    d = S.simulate_depth(*scene(step_scene(500.0, 1000.0)), camera(m.native_fx, 300, 40), P)[0]
    assert ((d[:, 170:172] - 500).abs() <= 1).all() and ((d[:, 172] - 1000).abs() <= 2).all()  # grown by 2 px


def test_dark_grazing_and_specular_holes():
    H, W = 40, 120
    z = torch.full((1, H, W), 700.0)
    alb = torch.full((1, H, W, 3), 0.9)
    alb[:, :, :40] = 0.02  # dark
    nrm = torch.zeros(1, H, W, 3)
    nrm[..., 2] = -1.0
    t = math.radians(80.0)
    nrm[:, :, 80:] = torch.tensor([math.sin(t), 0.0, -math.cos(t)])  # 80° ± 6° (ray directions) incidence
    P = params("sr300", min_return=0.05, ir_albedo=1.0, max_incidence=70.0)
    P["return_ref"] = torch.tensor([700.0])
    d = S.simulate_depth(z, nrm, alb, camera(475.0, W, H), P)[0]
    assert (d[:, :40] == 0).all() and (d[:, 45:75] > 0).all() and (d[:, 82:] == 0).all()
    P["max_incidence"] = torch.tensor([88.0])
    P["min_return"] = torch.tensor([0.0])
    d = S.simulate_depth(z, nrm, alb, camera(475.0, W, H), P)[0]
    assert (d > 0).all()
    spec = torch.zeros(1, H, W)
    spec[:, :, 60:] = 1.0
    P["spec_drop"] = torch.tensor([1.0])
    d = S.simulate_depth(z, nrm, alb, camera(475.0, W, H), P, specular=spec)[0]
    assert (d[:, :60] > 0).all() and float((d[:, 60:] == 0).float().mean()) > 0.95


def test_misregistration_shifts_depth_against_colour():
    z, nrm, alb = random_scene(B=1)
    cam = camera(300.0, 240, 120)
    a = S.simulate_depth(z, nrm, alb, cam, params("d435"))
    b = S.simulate_depth(z, nrm, alb, cam, params("d435", dx=2, dy=-1))
    assert torch.equal(b[:, :-1, 2:], a[:, 1:, :-2]) and (b[:, :, :2] == 0).all()


# --------------------------------------------------------------------------- clean, determinism, crops


def test_clean_preset_is_exact():
    z = torch.rand(2, 50, 60) * 3000.0
    z[0, :5] = float("inf")
    z[1, :5] = float("nan")
    z[1, 5:8] = 0.0
    g = torch.Generator().manual_seed(0)
    P = S.stack_sensor_params([S.sample_sensor_params(g, "clean") for _ in range(2)])
    out = S.simulate_depth(*scene(z), camera(300.0, 60, 50, 2), P)
    ok = torch.isfinite(z) & (z >= 1.0)
    expected = torch.where(ok, z.round(), torch.zeros_like(z)).to(torch.int32)
    assert torch.equal(out, expected)
    # the full model with every strength at zero gives the same (no hidden side effects)
    ideal = S.SensorModel(name="ideal-copy")
    P2 = S.stack_sensor_params([S.sample_sensor_params(g, ideal) for _ in range(2)])
    assert torch.equal(S.simulate_depth(*scene(z), camera(300.0, 60, 50, 2), P2), expected)
    rgb = torch.rand(2, 50, 60, 3)
    assert torch.equal(S.simulate_color(rgb, P), (rgb * 255).round().to(torch.uint8))


def _frame_params(preset, seed, indices):
    rows = []
    for i in indices:
        g = torch.Generator().manual_seed(seed * 1000 + i)
        rows.append(S.sample_sensor_params(g, preset))
    return rows


@pytest.mark.parametrize("preset", ["sr300", "d435", "azure_kinect", "mixed"])
def test_deterministic_whatever_the_batch(preset):
    z, nrm, alb = random_scene(B=3)
    cam = camera(300.0, 240, 120, 3)
    rows = _frame_params(preset, 7, range(3))
    assert _frame_params(preset, 7, range(3)) == rows  # same generator, same strengths and key
    full = S.simulate_depth(z, nrm, alb, cam, S.stack_sensor_params(rows))
    assert torch.equal(full, S.simulate_depth(z, nrm, alb, cam, S.stack_sensor_params(rows)))
    one = S.simulate_depth(z[1:2], nrm[1:2], alb[1:2], cam[1:2], S.stack_sensor_params(rows[1:2]))
    assert torch.equal(one, full[1:2])
    rev = S.simulate_depth(z.flip(0), nrm.flip(0), alb.flip(0), cam, S.stack_sensor_params(rows[::-1]))
    assert torch.equal(rev.flip(0), full)
    rgb = torch.rand(3, 120, 240, 3, generator=torch.Generator().manual_seed(1))
    c = S.simulate_color(rgb, S.stack_sensor_params(rows))
    assert torch.equal(S.simulate_color(rgb[2:], S.stack_sensor_params(rows[2:])), c[2:])
    assert (full > 0).float().mean() > 0.5  # not everything dropped


@pytest.mark.parametrize("preset", ["sr300", "d435", "d415", "azure_kinect", "mixed"])
def test_crop_with_margin_equals_full_frame(preset):
    """Documented tolerance: exact. Given the same clean input, a crop that extends crop_margin()
    beyond the region of interest reproduces the full frame's depth and colour there bit for bit."""
    B, H, W, fx = 3, 120, 240, 240.0
    z, nrm, alb = random_scene(B, H, W, seed=3)
    rgb = alb * 0.8
    cam = camera(fx, W, H, B)
    rows = _frame_params(preset, 3, range(B))
    for r in rows:  # the worst case of the ranges
        r["blur_len"] = 7.0
        r["defocus"] = 0.8
    P = S.stack_sensor_params(rows)
    full = S.simulate_depth(z, nrm, alb, cam, P, full_width=W)
    full_c = S.simulate_color(rgb, P, full_width=W)
    m = S.crop_margin(preset, fx, z_near_mm=340.0)
    u0, v0, w, h = 110, 40, 48, 48
    a0, b0 = max(u0 - m["left"], 0), max(v0 - m["top"], 0)
    a1, b1 = min(u0 + w + m["right"], W), min(v0 + h + m["bottom"], H)
    sl = (slice(None), slice(b0, b1), slice(a0, a1))
    crop = S.simulate_depth(z[sl], nrm[sl], alb[sl], cam, P, origin=(a0, b0), full_width=W)
    crop_c = S.simulate_color(rgb[sl], P, origin=(a0, b0), full_width=W)
    roi = (slice(None), slice(v0 - b0, v0 - b0 + h), slice(u0 - a0, u0 - a0 + w))
    assert torch.equal(crop[roi], full[:, v0:v0 + h, u0:u0 + w])
    assert torch.equal(crop_c[roi], full_c[:, v0:v0 + h, u0:u0 + w])
    # without the margin the occlusion band (and the filters) are wrong near the crop's edge
    sl0 = (slice(None), slice(v0, v0 + h), slice(u0, u0 + w))
    bare = S.simulate_depth(z[sl0], nrm[sl0], alb[sl0], cam, P, origin=(u0, v0), full_width=W)
    assert not torch.equal(bare, full[:, v0:v0 + h, u0:u0 + w])


def test_crop_margin_sides():
    m = S.crop_margin("sr300", 475.0, z_near_mm=300.0, z_far_mm=1000.0)
    band = 475.0 * 53.0 * (1 / 300 - 1 / 1000)
    assert m["left"] > band and m["right"] < 20 and m["top"] == m["bottom"] == m["right"]
    m = S.crop_margin("d435", 424.0, z_near_mm=300.0, z_far_mm=1000.0)
    assert m["right"] > 424.0 * 51.0 * (1 / 300 - 1 / 1000) and m["left"] < 20
    mixed = S.crop_margin("mixed", 475.0, z_near_mm=300.0)
    assert mixed["left"] >= S.crop_margin("sr300", 475.0, 300.0)["left"]
    assert mixed["right"] >= S.crop_margin("d435", 475.0, 300.0)["right"]
    assert S.crop_margin("clean", 475.0) == {"left": 0, "right": 0, "top": 0, "bottom": 0}


# --------------------------------------------------------------------------- registry, sampling, errors


def test_registry_and_randomisation():
    assert {"clean", "sr300", "d435", "d415", "azure_kinect", "mixed"} <= set(S.SENSORS)
    assert S.get_sensor("SR305") is S.SR300 and S.get_sensor(S.D435) is S.D435
    with pytest.raises(ValueError, match="unknown sensor"):
        S.get_sensor("kinect-v1")
    g = torch.Generator().manual_seed(0)
    rows = [S.sample_sensor_params(g, "mixed") for _ in range(60)]
    names = {S.preset_name(r["preset"]) for r in rows}
    assert names == {"sr300", "d435", "d415", "azure_kinect"}
    for r in rows:
        m = S.get_sensor(S.preset_name(r["preset"]))
        for name, fld in S._DRAWN:
            lo, hi = getattr(m, fld)
            assert lo <= r[name] <= hi, (m.name, name)
        assert abs(r["dx"]) <= m.misregistration_px and abs(r["dy"]) <= m.misregistration_px
    assert len({r["key"] for r in rows}) == 60
    assert S.preset_name(S.sample_sensor_params(g, S.SensorModel(name="mine"))["preset"]) == "custom"
    P = S.stack_sensor_params(rows[:2])
    P["sigma_d"] = torch.zeros(3)
    with pytest.raises(ValueError, match="sigma_d"):
        S.simulate_depth(*scene(torch.full((2, 8, 8), 500.0)), camera(300.0, 8, 8, 2), P)


# --------------------------------------------------------------------------- the statistics tool on model output


def test_statistics_tool_recovers_the_model_geometry():
    """sensor_stats (used on the real SR300 clip) measures on model output what the model was given."""
    H, W, fx = 60, 320, T.FPHAB_FX
    imgs = {}
    for preset in ("sr300", "d435"):
        out = []
        for i, (zn, zf) in enumerate(((330.0, 700.0), (400.0, 800.0), (450.0, 900.0))):
            z = torch.full((1, H, W), zf)
            z[:, :, 120:200] = zn
            g = torch.Generator().manual_seed(i)
            p = S.sample_sensor_params(g, preset)
            p.update(dropout=0.0, salt=0.0, min_return=0.0, dx=0, dy=0, border=0.0)
            P = S.stack_sensor_params([p])
            out.append((S.simulate_depth(*scene(z), camera(fx, W, H), P)[0].numpy(), abs(p["baseline_mm"])))
        imgs[preset] = out
    st = T.depth_statistics([d for d, _ in imgs["sr300"]], fx)
    assert st["band"]["side"] == "band_right_of_fg"
    b = np.mean([b for _, b in imgs["sr300"]])
    assert abs(st["band"]["baseline_mm_median_ratio"] - b) < 0.1 * b
    assert st["other_side_gap"]["p10_p50_p90"][1] >= 2  # the rim
    assert T.depth_statistics([d for d, _ in imgs["d435"]], fx)["band"]["side"] == "band_left_of_fg"
    # flying pixels: a ToF preset has them, the SR300 none
    z = step_scene(1000.0, 2000.0, H=60)
    d = S.simulate_depth(*scene(z), camera(504.0, 300, 60), params("azure_kinect", fly=1.0))[0].numpy()
    fly, steps = T.flying_counts(d.astype(np.float64))
    assert steps > 0 and fly / steps > 0.5
    assert T.flying_counts(imgs["sr300"][0][0].astype(np.float64))[0] == 0


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    z, nrm, alb = random_scene(B=3)
    cam = camera(300.0, 240, 120, 3)
    P = S.stack_sensor_params(_frame_params("mixed", 11, range(3)))
    a = S.simulate_depth(z, nrm, alb, cam, P)
    b = S.simulate_depth(z.cuda(), nrm.cuda(), alb.cuda(), cam.cuda(), {k: v.cuda() for k, v in P.items()}).cpu()
    assert float((a == b).float().mean()) > 0.999 and int((a - b).abs().max()) <= 2
    rgb = alb * 0.7
    ca = S.simulate_color(rgb, P)
    cb = S.simulate_color(rgb.cuda(), {k: v.cuda() for k, v in P.items()}).cpu()
    assert int((ca.int() - cb.int()).abs().max()) <= 1


def test_statistics_cli_writes_numbers_only(tmp_path):
    import cv2
    import json

    real = tmp_path / "depth"
    real.mkdir()
    for i in range(2):  # stand-in "real" frames: model output written as uint16 PNGs
        z = step_scene(400.0 + 50 * i, 900.0, H=48, W=64)
        d = S.simulate_depth(*scene(z), camera(95.0, 64, 48), params("sr300"))[0].numpy().astype(np.uint16)
        cv2.imwrite(str(real / f"depth_{i:04d}.png"), d)
    out = tmp_path / "stats.json"
    assert T.main(["--real-depth-dir", str(real), "--real-fx", "95", "--frames", "1", "--width", "96",
                   "--height", "72", "--quiet", "--out", str(out)]) == 0
    res = json.loads(out.read_text())
    assert res["real"]["images"] == 2 and res["synthetic_sr300"]["images"] == 1
    assert res["preset"]["name"] == "sr300" and "--real-depth-dir" in res["command"]
    assert 0 <= res["synthetic_sr300"]["invalid_fraction"] <= 1
    with pytest.raises(SystemExit):
        T.main(["--real-depth-dir", str(tmp_path / "nothing"), "--quiet"])
