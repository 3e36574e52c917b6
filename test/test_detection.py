"""The localiser's learned stage: depth patches, the hand verifier (shapes, determinism, files), its use."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from kpfusion_ros.detection.patches import PATCH_CUBE_MM, PATCH_SIZE, depth_pyramid, extract_patches, flip_patches
from kpfusion_ros.detection.verifier import (HandVerifier, VerifierLoadError, VerifierSpec, default_verifier_path,
                                             load_verifier, save_verifier)
from kpfusion_ros.localization import NO_VERIFIER, HandLocalizer, LocalizerConfig

CAM = (300.0, 300.0, 159.5, 119.5)


def _plane_with_box(z_plane=900.0, box=((140, 180), (100, 140)), z_box=500.0):
    d = np.full((240, 320), z_plane, np.float32)
    (c0, c1), (r0, r1) = box
    d[r0:r1, c0:c1] = z_box
    return d


def test_pyramid_is_the_block_minimum_of_valid_depth():
    rng = np.random.default_rng(0)
    d = (rng.random((37, 53)) * 2000).astype(np.float32)
    d[rng.random(d.shape) < 0.2] = 0.0
    d[0, 0] = np.nan
    pyr = depth_pyramid(d, 100.0, 1500.0, levels=4)
    assert [p.shape for p in pyr] == [(37, 53), (19, 27), (10, 14), (5, 7)]
    ok = (d >= 100) & (d <= 1500)
    for L, p in enumerate(pyr):
        b = 2 ** L
        for i in range(0, 37, b):
            for j in range(0, 53, b):
                blk = np.where(ok[i:i + b, j:j + b], d[i:i + b, j:j + b], np.inf)
                assert p[i // b, j // b] == blk.min()


def test_patch_channels_and_geometry():
    d = _plane_with_box()
    # centre on the box (its pixel centre: u = 159.5, v = 119.5 → the optical axis), 17 mm behind it
    P = extract_patches(d, CAM, [[0.0, 0.0, 517.0], [0.0, 0.0, -5.0], [1e4, 0.0, 500.0]])
    assert P.shape == (3, 2, PATCH_SIZE, PATCH_SIZE) and P.dtype == torch.float32
    p = P[0]
    mid = PATCH_SIZE // 2
    assert p[0, mid, mid] == pytest.approx((500.0 - 517.0) / (PATCH_CUBE_MM / 2))  # the box's depth, normalised
    assert p[0, 0, 0] == 1.0 and p[1, 0, 0] == 1.0  # the plane: beyond the cube → background, but measured
    # the box spans 40 px = 40·500/300 mm = 66.7 mm of the 300 mm cube: ~14 of 64 samples
    row = (p[0, mid] < 0).sum().item()
    assert 12 <= row <= 16
    assert torch.all(P[1, 0] == 1.0) and torch.all(P[1, 1] == -1.0)  # behind the camera: nothing, off-image
    assert torch.all(P[2, 1] == -1.0)  # far outside the image
    # holes are 0 in the mask channel, background in the depth channel
    d2 = d.copy()
    d2[:, :] = 0.0
    H = extract_patches(d2, CAM, [[0.0, 0.0, 517.0]])
    assert torch.all(H[0, 0] == 1.0) and torch.all(H[0, 1] == 0.0)
    assert torch.equal(flip_patches(P)[:, :, :, 0], P[:, :, :, -1])


def test_patches_of_near_and_far_hands_have_the_same_metric_size():
    """A square covers the share of its patch its metric width gives, at 0.4 m and at 1.2 m (a
    pyramid level of 4-pixel blocks there would not change it)."""
    for z in (400.0, 1200.0):
        half_px = int(round(30.0 * CAM[0] / z))
        d = np.full((240, 320), 3000.0, np.float32)
        d[120 - half_px:120 + half_px, 160 - half_px:160 + half_px] = z
        width_mm = 2 * half_px * z / CAM[0]
        P = extract_patches(d, CAM, [[0.0, 0.0, z]])
        width = int((P[0, 0, PATCH_SIZE // 2] < 1.0).sum())
        assert abs(width - width_mm / PATCH_CUBE_MM * PATCH_SIZE) <= 1.5, (z, width, width_mm)


def test_verifier_shapes_and_determinism():
    torch.manual_seed(3)
    m = HandVerifier().eval()
    x = torch.randn(5, 2, PATCH_SIZE, PATCH_SIZE)
    a, b = m.predict(x), m.predict(x)
    assert a.hand_logit.shape == (5,) and a.right_logit.shape == (5,) and a.offset_mm.shape == (5, 3)
    assert torch.equal(a.hand_logit, b.hand_logit) and torch.equal(a.offset_mm, b.offset_mm)
    # batching does not change a patch's result
    one = m.predict(x[2:3])
    assert torch.allclose(one.hand_logit, a.hand_logit[2:3], atol=1e-5)
    assert m.predict(torch.zeros(0, 2, PATCH_SIZE, PATCH_SIZE)).p_hand.shape == (0,)
    assert sum(p.numel() for p in m.parameters()) < 500_000


def test_save_load_roundtrip_and_errors(tmp_path):
    torch.manual_seed(1)
    m = HandVerifier(VerifierSpec(channels=(8, 16, 16, 32), hidden=32)).eval()
    path = tmp_path / "v.pt"
    save_verifier(m, path, meta={"description": "test"})
    m2, meta = load_verifier(str(path))
    assert meta["description"] == "test" and m2.spec == m.spec
    x = torch.randn(3, 2, PATCH_SIZE, PATCH_SIZE)
    assert torch.allclose(m2.predict(x).hand_logit, m.predict(x).hand_logit, atol=2e-2)  # fp16 weights
    with pytest.raises(VerifierLoadError, match="not found"):
        load_verifier(str(tmp_path / "missing.pt"))
    (tmp_path / "junk.pt").write_bytes(b"not a torch file")
    with pytest.raises(VerifierLoadError, match="cannot read"):
        load_verifier(str(tmp_path / "junk.pt"))
    torch.save({"format": "something else"}, tmp_path / "other.pt")
    with pytest.raises(VerifierLoadError, match="not a hand verifier"):
        load_verifier(str(tmp_path / "other.pt"))
    blob = torch.load(path, weights_only=True)
    blob["spec"]["hidden"] = 64  # weights no longer fit
    torch.save(blob, tmp_path / "mismatch.pt")
    with pytest.raises(VerifierLoadError, match="does not match"):
        load_verifier(str(tmp_path / "mismatch.pt"))
    # the localiser: an explicit path must load; "none" is the geometric localiser
    with pytest.raises(VerifierLoadError, match="not found"):
        HandLocalizer(LocalizerConfig(verifier_path=str(tmp_path / "missing.pt")))
    geo = HandLocalizer(LocalizerConfig(verifier_path=NO_VERIFIER))
    assert geo.verifier is None and geo.verifier_warning is None


def test_shipped_verifier_and_sidecar():
    path = default_verifier_path()
    assert path is not None and path.name == "hand_verifier.pt"
    assert path.stat().st_size < 1_000_000
    side = json.loads(Path(path).with_suffix(".json").read_text())
    for key in ("command", "data", "parameters", "val_localizer", "size_bytes"):
        assert key in side, key
    assert side["data"]["train_seed"] != side["data"]["val_seed"]
    loc = HandLocalizer()
    assert loc.verifier is not None and loc.verifier_warning is None


def test_missing_shipped_verifier_falls_back_with_a_warning(monkeypatch):
    import kpfusion_ros.detection.verifier as V

    monkeypatch.setattr(V, "default_verifier_path", lambda: None)
    loc = HandLocalizer(LocalizerConfig())
    assert loc.verifier is None and "not installed" in loc.verifier_warning
    # it still localises (the geometric stage alone)
    d = _plane_with_box()
    assert isinstance(loc.localize(d, CAM), list)


def test_localizer_finds_an_egocentric_hand_among_table_clutter():
    """Egocentric frames (arm from the bottom edge, a held object, 6–10 items on a table at 0.6–1.2 m), rendered
    from a seed the verifier never saw: the shipped localiser finds the hand and does better than the geometric
    stage alone. Measured on these 30 frames: verifier v5 27/30 found, 17 false hands, centre 14.6 mm (v4: 27, 14,
    18.5); the geometric stage 11, 24, 26.5. (On the first 10 frames alone v5 has 7 false hands to v4's 4; on the
    next 50 they are level, 33 vs 32: ten frames were too few to tell the two apart.)"""
    from kpfusion_ros.data.synthetic import SceneConfig, SyntheticConfig, render_frame
    from kpfusion_ros.evaluation.matching import match_centres

    scene = SceneConfig(num_hands=1, views=(0.0, 1.0, 0.0), table_items=(6, 10), p_grasp=1.0)
    cfg = SyntheticConfig(width=320, height=240, scene=scene)
    frames = [render_frame(4242, i, cfg) for i in range(30)]
    assert all(f.joints_mm.shape[0] == 1 for f in frames)
    results = {}
    for name, loc in (("verifier", HandLocalizer()), ("geometric", HandLocalizer(LocalizerConfig(verifier_path=NO_VERIFIER)))):
        found = false = 0
        err = []
        for f in frames:
            cands = loc.localize(f.depth.astype(np.float32), f.cam)
            cc = np.array([c.centre_mm for c in cands]).reshape(-1, 3)
            pairs = match_centres(f.joints_mm.astype(np.float64).mean(axis=1), cc, 80.0)
            found += len(pairs)
            false += len(cands) - len(pairs)
            err += [e for _, _, e in pairs]
        results[name] = (found, false, float(np.median(err)) if err else np.inf)
    found, false, med = results["verifier"]
    assert found >= 25 and false <= 20 and med <= 25.0, results
    assert found > results["geometric"][0] and false < results["geometric"][1], results


def test_clutter_patches_are_valid_deterministic_and_edge_rich():
    from kpfusion_ros.detection.clutter import clutter_patches

    a = clutter_patches(64, PATCH_SIZE, torch.Generator().manual_seed(3))
    b = clutter_patches(64, PATCH_SIZE, torch.Generator().manual_seed(3))
    assert a.shape == (64, 2, PATCH_SIZE, PATCH_SIZE) and torch.equal(a, b)
    assert not torch.equal(a, clutter_patches(64, PATCH_SIZE, torch.Generator().manual_seed(4)))
    d, v = a[:, 0], a[:, 1]
    assert d.min() >= -1.0 and d.max() <= 1.0
    assert set(torch.unique(v).tolist()) <= {-1.0, 0.0, 1.0}
    # holes and outside-the-image samples read as "no depth" (+1), as extract_patches writes them
    assert (d[v <= 0] == 1.0).all()
    # clutter: most patches have surfaces in the cube and several depth edges
    fg = (d < 1.0).float().mean(dim=(1, 2))
    assert (fg > 0.05).float().mean() > 0.8
    edges = ((d[:, :, 1:] - d[:, :, :-1]).abs() > 0.08).float().sum(dim=(1, 2))
    assert float(edges.median()) > 2 * PATCH_SIZE


def test_ellipsoid_ray_caster_hits_the_surface_at_the_nearer_root():
    """The ray caster of the smooth-blob negatives (the renderer's ``hit_ellipsoid``, with rays (x, y, 1) so that
    t is the depth): every hit lies on its (rotated) ellipsoid and is its nearer root, the axis-aligned
    silhouette has the projected half-width, and a ray that misses is +inf."""
    from kpfusion_ros.data.synthetic.render import hit_ellipsoid
    from kpfusion_ros.data.synthetic.scene import random_rotation

    fx, W, H = 300.0, 160, 120
    uu, vv = torch.meshgrid(torch.arange(W, dtype=torch.float64), torch.arange(H, dtype=torch.float64), indexing="xy")
    x, y = ((uu - 79.5) / fx).flatten(), ((vv - 59.5) / fx).flatten()
    C = torch.tensor([[0.0, 0.0, 500.0], [60.0, -40.0, 800.0]], dtype=torch.float64)
    axes = torch.tensor([[40.0, 90.0, 20.0], [30.0, 70.0, 50.0]], dtype=torch.float64)
    R = torch.stack([torch.eye(3, dtype=torch.float64),
                     torch.from_numpy(random_rotation(torch.Generator().manual_seed(1)))])
    A = torch.diag_embed(1.0 / axes) @ R.transpose(1, 2)
    rd = torch.stack([x, y, torch.ones_like(x)], dim=-1)[None]
    t = hit_ellipsoid(rd, torch.cat([C, A.reshape(2, 9)], 1)[None])[0].T
    for k in range(2):
        hit = torch.isfinite(t[k])
        assert 30 < int(hit.sum()) < W * H
        p = t[k, hit, None] * torch.stack([x[hit], y[hit], torch.ones_like(x[hit])], dim=1)   # 3D hit points
        e = torch.einsum("ji,pj->pi", R[k], p - C[k]) / axes[k]
        assert torch.allclose((e * e).sum(1), torch.ones(int(hit.sum()), dtype=torch.float64), atol=1e-6)
        q = p * (1.0 - 1.0 / t[k, hit, None])                                 # 1 mm nearer on each ray: outside
        e = torch.einsum("ji,pj->pi", R[k], q - C[k]) / axes[k]
        assert ((e * e).sum(1) > 1.0).all()
    assert float(t[0].min()) == pytest.approx(480.0, abs=0.01)            # 500 − 20 on the axis
    row = torch.isfinite(t[0].view(H, W)[60])                              # the middle row: x half-width 40 mm
    assert abs(int(row.sum()) - 2 * 40 * fx / 500) <= 2
    assert not torch.isfinite(t[0].view(H, W)[0, 0])


def test_smooth_blob_patches_are_deterministic_valid_and_smooth():
    """Smooth-blob negatives: the verifier's own input format (hand and context patch), reproducible from the
    generator, a single convex surface near the centre (few depth edges, unlike clutter), the rest background."""
    from kpfusion_ros.detection.clutter import clutter_patches, smooth_blob_patches

    spec = VerifierSpec(context_scale=3.0, in_channels=4)
    a = smooth_blob_patches(24, spec, torch.Generator().manual_seed(2))
    assert a.shape == (24, 4, PATCH_SIZE, PATCH_SIZE)
    assert torch.equal(a, smooth_blob_patches(24, spec, torch.Generator().manual_seed(2)))
    assert not torch.equal(a, smooth_blob_patches(24, spec, torch.Generator().manual_seed(3)))
    d, v = a[:, 0], a[:, 1]
    assert d.min() >= -1.0 and d.max() <= 1.0 and set(torch.unique(v).tolist()) <= {-1.0, 0.0, 1.0}
    fg = d < 1.0
    centre = fg[:, 24:40, 24:40].float().mean(dim=(1, 2))
    assert float(centre.median()) > 0.5                                    # the blob is where the centre is
    assert (fg.float().mean(dim=(1, 2)) < 0.9).all()                       # and leaves background around it
    inner = fg[:, 1:-1, 1:-1] & fg[:, :-2, 1:-1] & fg[:, 2:, 1:-1] & fg[:, 1:-1, :-2] & fg[:, 1:-1, 2:]
    curvature = (d[:, 1:-1, 2:] - 2 * d[:, 1:-1, 1:-1] + d[:, 1:-1, :-2]).abs()[inner]
    c = clutter_patches(24, PATCH_SIZE, torch.Generator().manual_seed(2))[:, 0]
    assert float(curvature.quantile(0.99)) < 0.2                            # smooth (clutter: ~0.9)
    edges = lambda z: ((z[:, :, 1:] - z[:, :, :-1]).abs() > 0.08).float().sum(dim=(1, 2)).median()
    assert float(edges(d)) < 0.5 * float(edges(c))


def test_composite_behind_keeps_the_foreground_and_fills_only_valid_background():
    from kpfusion_ros.detection.clutter import composite_behind

    d = _plane_with_box(z_plane=5000.0)  # box at 500 mm, the plane far outside the cube
    d[110:114, 150:154] = 0.0            # a hole inside the box
    p = extract_patches(d, CAM, np.array([[0.0, 0.0, 500.0]]) + [[(160 - 159.5) * 500 / 300, 0.0, 0.0]])
    q = composite_behind(p.repeat(8, 1, 1, 1), torch.Generator().manual_seed(0), min_behind=0.3)
    assert torch.equal(q[:, 1], p[:, 1].repeat(8, 1, 1))                 # validity unchanged
    fg = p[0, 0] < 1.0
    assert torch.equal(q[:, 0][:, fg], p[0, 0][fg].repeat(8, 1))           # the box untouched
    hole = p[0, 1] == 0
    assert hole.any() and (q[:, 0][:, hole] == 1.0).all()                  # holes stay holes
    bg = (p[0, 0] >= 1.0) & (p[0, 1] > 0.5)
    filled = q[:, 0][:, bg]
    assert (filled >= 0.3).all() and (filled < 1.0).float().mean() > 0.3  # clutter, behind the centre


def test_verifier_trains_with_a_context_patch_and_the_localiser_uses_it(tmp_path):
    """A tiny run of the verifier's training on one rendered shard, with the wide context patch: finite losses,
    the 4-channel input built in one place for training and the localiser, the spec kept by the weight file."""
    from kpfusion_ros.detection.patches import verifier_patches
    from kpfusion_ros.detection.training import TrainConfig, train
    from kpfusion_ros.detection.training_data import SHARD_FRAMES, load_shards, write_shards

    frames = load_shards(write_shards(tmp_path / "shards", seed=5, shards=[0], progress=False))
    assert len(frames) == SHARD_FRAMES
    spec = VerifierSpec(context_scale=3.0, in_channels=4)
    with pytest.raises(ValueError, match="in_channels must be 4"):
        VerifierSpec(context_scale=3.0)
    cfg = replace(TrainConfig(), epochs=1, frames_per_step=4, spec=spec,
                  samples=replace(TrainConfig().samples, blob_bank=16))
    model, hist = train(frames, cfg, progress=False, log=lambda *a: None)
    ep = hist["epochs"][0]
    assert ep["steps_done"] == SHARD_FRAMES // 4 and all(np.isfinite(ep[k]) for k in ("total", "hand", "offset"))
    fr = frames[0]
    x = verifier_patches(fr["depth"], fr["cam"], fr["centre_mm"].reshape(-1, 3), spec)
    assert x.shape[1:] == (4, PATCH_SIZE, PATCH_SIZE)
    # the context channels are the same centre seen through a 3x wider cube
    wide = extract_patches(fr["depth"], fr["cam"], fr["centre_mm"].reshape(-1, 3), cube_mm=3 * PATCH_CUBE_MM)
    assert torch.equal(x[:, 2:], wide)
    path = tmp_path / "v.pt"
    save_verifier(model, path, half=False)
    loaded, _ = load_verifier(str(path))
    assert loaded.spec == spec
    loc = HandLocalizer(LocalizerConfig(min_score=0.0, verifier_path=str(path)))
    cands = loc.localize(fr["depth"], fr["cam"])
    assert cands and all(0.0 <= c.score <= 1.0 and np.isfinite(c.centre_mm).all() for c in cands)


def test_train_verifier_cli_mixes_seeds_and_keeps_every_epoch(tmp_path):
    """kpfusion-train-verifier --also adds another stream's shards to the training frames (recorded in the
    sidecar); --keep-epochs leaves each epoch's weights beside the checkpoint; a malformed --also is refused."""
    from kpfusion_ros.detection.training_data import SHARD_FRAMES, shard_path
    from kpfusion_ros.tools import train_verifier

    with pytest.raises(SystemExit, match="SEED:SHARDS"):
        train_verifier.parse_also(["2000"])
    with pytest.raises(SystemExit, match="at least 1"):
        train_verifier.parse_also(["2000:0"])
    assert train_verifier.parse_also(["2000:3", "7:1"]) == [(2000, 3), (7, 1)]

    data, out, ck = tmp_path / "data", tmp_path / "v.pt", tmp_path / "ck.pt"
    rc = train_verifier.main(["--data-dir", str(data), "--seed", "5", "--shards", "1", "--also", "6:1",
                              "--val-shards", "0", "--epochs", "2", "--frames-per-step", "8", "--blob-bank", "8",
                              "--checkpoint", str(ck), "--keep-epochs", "--out", str(out), "--quiet"])
    assert rc == 0
    assert shard_path(data, 5, 0).is_file() and shard_path(data, 6, 0).is_file()
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["data"]["train_frames"] == 2 * SHARD_FRAMES
    assert meta["data"]["also"] == [{"seed": 6, "shards": 1}]
    assert meta["train"]["steps"] == 2 * (2 * SHARD_FRAMES // 8)
    assert meta["train_config"]["samples"]["blob_bank"] == 8
    e1, e2 = tmp_path / "ck_epoch1.pt", tmp_path / "ck_epoch2.pt"
    assert e1.is_file() and e2.is_file() and not (tmp_path / "ck_epoch3.pt").exists()
    w1, w2 = load_verifier(str(e1))[0].state_dict(), load_verifier(str(e2))[0].state_dict()
    assert any(not torch.equal(w1[k], w2[k]) for k in w1)  # two different epochs' weights
    assert all(torch.equal(w2[k], v) for k, v in load_verifier(str(ck))[0].state_dict().items())


def test_near_negatives_lie_beside_the_hand_on_the_surface():
    """SampleConfig.near_per_hand: per GT hand, surface points 150-500 mm from its joint mean and not on it; with
    0 (the default, up to verifier v5) the samples are the ones drawn before, which stay the prefix with it."""
    from kpfusion_ros.detection.training import SampleConfig, frame_samples

    H, W = 240, 320
    cam = np.array(CAM)
    depth = np.full((H, W), 900, np.uint16)  # a wall at 0.9 m
    inst = np.full((H, W), -1, np.int8)
    depth[100:140, 140:180] = 500  # the hand at 0.5 m, its instance 0
    inst[100:140, 140:180] = 0
    depth[:, :10] = 0  # no depth here
    centre = np.array([[0.0, 0.0, 520.0]])
    fr = {"depth": depth, "instance": inst, "cam": cam, "centre_mm": centre}
    props = np.zeros((0, 3))
    base = frame_samples(fr, props, np.random.default_rng(3), SampleConfig())
    sc = SampleConfig(near_per_hand=40)
    got = frame_samples(fr, props, np.random.default_rng(3), sc)
    assert got.shape == (len(base) + 40, 3) and np.array_equal(got[:len(base)], base)
    near = got[len(base):]
    d = np.linalg.norm(near - centre, axis=1)
    assert (d >= 150.0).all() and (d <= 500.0).all()
    u = np.round(near[:, 0] * CAM[0] / near[:, 2] + CAM[2]).astype(int)
    v = np.round(near[:, 1] * CAM[1] / near[:, 2] + CAM[3]).astype(int)
    assert (depth[v, u] > 0).all() and (inst[v, u] != 0).all()  # on a surface with depth, not on the hand
    assert np.allclose(near[:, 2], depth[v, u] + sc.surface_mm, atol=1e-6)
    assert len(frame_samples({**fr, "centre_mm": np.zeros((0, 3))}, props, np.random.default_rng(3), sc)) > 0


def test_verifier_fine_tune_starts_from_the_given_weights(tmp_path):
    """TrainConfig.init_weights: training starts from that file's weights (with a learning rate of 0 its
    parameters are what comes out); a file of another architecture is refused; kpfusion-train-verifier --render-only renders
    the shards and trains nothing."""
    from kpfusion_ros.detection.training import TrainConfig, train
    from kpfusion_ros.detection.training_data import load_shards, shard_path, write_shards
    from kpfusion_ros.tools import train_verifier

    frames = load_shards(write_shards(tmp_path / "shards", seed=5, shards=[0], progress=False))[:4]
    torch.manual_seed(11)
    start = HandVerifier(VerifierSpec())
    path = tmp_path / "start.pt"
    save_verifier(start, path, half=False)
    base = replace(TrainConfig(), epochs=1, frames_per_step=4, lr=0.0, seed=2,
                   samples=replace(TrainConfig().samples, blob_bank=4, near_per_hand=2))
    model, _ = train(frames, replace(base, init_weights=str(path)), progress=False, log=lambda *a: None)
    params = dict(model.named_parameters())  # (batch norm's running statistics move even at lr 0)
    assert all(torch.equal(v, params[k]) for k, v in load_verifier(str(path))[0].named_parameters())
    scratch = dict(train(frames, base, progress=False, log=lambda *a: None)[0].named_parameters())
    assert any(not torch.equal(v, scratch[k]) for k, v in start.named_parameters())
    wide = replace(base, spec=VerifierSpec(context_scale=3.0, in_channels=4), init_weights=str(path))
    with pytest.raises(ValueError, match="spec"):
        train(frames, wide, progress=False, log=lambda *a: None)
    out = tmp_path / "never.pt"
    assert train_verifier.main(["--data-dir", str(tmp_path / "d"), "--seed", "5", "--shards", "1", "--val-shards", "0",
                                "--render-only", "--out", str(out), "--quiet"]) == 0
    assert shard_path(tmp_path / "d", 5, 0).is_file() and not out.exists()
    with pytest.raises(SystemExit, match="no such file"):
        train_verifier.main(["--data-dir", str(tmp_path / "d"), "--seed", "5", "--shards", "1", "--val-shards", "0",
                             "--init-weights", str(tmp_path / "missing.pt"), "--out", str(out), "--quiet"])
