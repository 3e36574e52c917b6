"""Synthetic RGB-D hand generator: determinism, labels vs rendering, encodings, splits, CLIs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kpfusion_ros.data.synthetic import (
    OBJECT_INSTANCE,
    SceneConfig,
    SyntheticConfig,
    SyntheticSequences,
    SyntheticSplit,
    render_batch,
    render_frame,
    render_sequence,
    write_split,
)
from kpfusion_ros.data.synthetic import hand_model as hm
from kpfusion_ros.geometry import backproject, project
from kpfusion_ros.joints import NETWORK_FINGER_CHAINS, NETWORK_JOINT_INDEX

W, H = 160, 120
SMALL = SyntheticConfig(width=W, height=H)
CLEAN2 = SyntheticConfig(width=W, height=H, clean=True, scene=SceneConfig(num_hands=2))


@pytest.fixture(scope="module")
def clean_frames():
    return render_batch(7, range(8), CLEAN2, keep_clean=True).frames()


def _joint_pixels(f):
    fx, fy, cx, cy = f.cam
    J = f.joints_mm
    u = np.round(J[..., 0] * fx / J[..., 2] + cx).astype(int)
    v = np.round(J[..., 1] * fy / J[..., 2] + cy).astype(int)
    return u, v


def test_frame_structure_and_encodings():
    f = render_frame(1, 0, SMALL)
    assert f.color.shape == (H, W, 3) and f.color.dtype == np.uint8
    assert f.depth.shape == (H, W) and f.depth.dtype == np.uint16
    assert f.instance.shape == (H, W) and f.instance.dtype == np.int8
    assert f.cam.shape == (4,) and f.cam.dtype == np.float32
    n = f.num_hands
    assert n in (1, 2) and f.joints_mm.shape == (n, 21, 3) and f.visible.shape == (n, 21)
    assert len(f.handedness) == n and set(f.handedness) <= {"left", "right"}
    assert 200 < np.median(f.depth[f.depth > 0]) < 5000  # millimetres


def test_determinism():
    a = render_frame(3, 5, SMALL)
    b = render_frame(3, 5, SMALL)
    for k in ("color", "depth", "instance", "joints_mm", "visible", "cam"):
        assert np.array_equal(getattr(a, k), getattr(b, k)), k
    assert a.color.tobytes() == b.color.tobytes() and a.depth.tobytes() == b.depth.tobytes()
    c = render_frame(4, 5, SMALL)
    d = render_frame(3, 6, SMALL)
    assert not np.array_equal(a.color, c.color) and not np.array_equal(a.color, d.color)
    # batching does not change a frame (up to float rounding on a few pixels)
    e = render_batch(3, [4, 5, 6], SMALL).frames()[1]
    assert np.array_equal(e.joints_mm, a.joints_mm)
    assert (e.depth == a.depth).mean() > 0.995 and (e.instance == a.instance).mean() > 0.995


def test_labels_land_on_rendered_hand(clean_frames):
    # visible joints project onto their own hand (tips lie on the skin, so some fall just off the
    # silhouette), and where they do the skin is at most the joint's radius in front of them
    on_hand, depth_ok, total = 0, 0, 0
    for f in clean_frames:
        u, v = _joint_pixels(f)
        for h in range(f.num_hands):
            for j in np.nonzero(f.visible[h])[0]:
                total += 1
                if f.instance[v[h, j], u[h, j]] != h:
                    continue
                on_hand += 1
                z = f.joints_mm[h, j, 2]
                d = float(f.depth[v[h, j], u[h, j]])
                depth_ok += abs(d - z) < f.joint_radius_mm[h, j] + 6.0 + 1.0
    assert total > 100
    assert on_hand / total >= 0.85, on_hand / total
    assert depth_ok / on_hand >= 0.95, depth_ok / on_hand


def test_depth_noise_within_model():
    # a time-of-flight camera's noise (edge effects and misregistration off: at 160×120 a finger is
    # nearly all edge): visible joints sit within their radius (+ 3σ of the noise) of the depth
    from dataclasses import replace

    from kpfusion_ros.data.synthetic import get_sensor

    tof = replace(get_sensor("azure_kinect"), flying_pixels=(0.0, 0.0), edge_dropout=(0.0, 0.0), misregistration_px=0)
    cfg = SyntheticConfig(width=W, height=H, sensor=tof, scene=SceneConfig(num_hands=2, views=(1, 0, 0)))
    ok, total = 0, 0
    for f in render_batch(11, range(6), cfg, keep_clean=True).frames():
        u, v = _joint_pixels(f)
        for h in range(f.num_hands):
            for j in np.nonzero(f.visible[h])[0]:
                z = f.joints_mm[h, j, 2]
                d = float(f.depth[v[h, j], u[h, j]])
                if d == 0 or f.instance[v[h, j], u[h, j]] != h:  # a hole, or a tip just off the silhouette
                    continue
                sigma = 3 * (2.0 + 0.0015 * z)  # the preset's largest σ0 + rel·z, ×3 on dark/oblique skin
                total += 1
                ok += abs(d - z) < f.joint_radius_mm[h, j] + 6.0 + 3 * sigma + 1.0
        clean = np.round(f.depth_clean)
        both = (f.depth > 0) & (clean > 0)
        assert np.abs(f.depth[both].astype(float) - clean[both]).max() > 0  # noise applied
    assert total > 50 and ok / total >= 0.95


def test_holes_and_clean_mode(clean_frames):
    noisy = SyntheticConfig(width=W, height=H, sensor="sr300", scene=SceneConfig(num_hands=2))
    zeros = [(f.depth == 0).mean() for f in render_batch(2, range(4), noisy).frames()]
    assert min(zeros) > 0.0
    for f in clean_frames:
        hand = (f.instance >= 0) & (f.instance < f.num_hands)
        assert hand.any()
        assert (f.depth[hand] > 0).all()
        assert np.array_equal(f.depth, np.round(f.depth_clean).astype(np.uint16))


def test_intrinsics_consistency(clean_frames):
    for f in clean_frames:
        J = torch.as_tensor(f.joints_mm, dtype=torch.float64).reshape(1, -1, 3)
        cam = torch.as_tensor(f.cam, dtype=torch.float64).view(1, 4)
        uv = project(J, cam)
        assert torch.allclose(backproject(uv, J[..., 2], cam), J, atol=1e-6)


def _thumb_side_sign(J: np.ndarray) -> float:
    """Sign of thumb side along (finger dir × palm normal), palm normal from finger flexion."""
    w, mid, tip = J[NETWORK_JOINT_INDEX["wrist"]], J[NETWORK_JOINT_INDEX["middle_mcp"]], J[NETWORK_JOINT_INDEX["middle_tip"]]
    fdir = (mid - w) / np.linalg.norm(mid - w)
    curl = tip - mid
    volar = curl - curl.dot(fdir) * fdir
    volar /= np.linalg.norm(volar)
    thumb = J[NETWORK_FINGER_CHAINS["thumb"][1]] - mid
    return float(np.cross(fdir, volar).dot(thumb))


def test_left_hands_mirror_consistent():
    g = torch.Generator().manual_seed(0)
    from kpfusion_ros.data.synthetic.scene import random_rotation

    for _ in range(10):
        pose = hm.sample_pose(g, "fist")
        R = random_rotation(g)
        for right in (True, False):
            shape = hm.sample_shape(g, right)
            J, _ = hm.forward_kinematics(shape, pose)
            s = _thumb_side_sign(J @ R.T + 100.0)
            assert (s > 0) if right else (s < 0)
    # rendered frames: the same rule holds in the camera frame for every labelled hand
    fcfg = SyntheticConfig(width=64, height=48, clean=True, scene=SceneConfig(num_hands=2))
    for f in render_batch(5, range(4), fcfg).frames():
        for h in range(f.num_hands):
            J = f.joints_mm[h]
            # knuckle-plane normal (index × pinky from the wrist) points volar for right hands only
            w = J[0]
            n = np.cross(J[NETWORK_JOINT_INDEX["index_mcp"]] - w, J[NETWORK_JOINT_INDEX["pinky_mcp"]] - w)
            tcmc = J[NETWORK_JOINT_INDEX["thumb_cmc"]] - (J[NETWORK_JOINT_INDEX["index_mcp"]] + J[NETWORK_JOINT_INDEX["pinky_mcp"]]) / 2
            # thumb base is volar of the knuckle plane: positive along n for right, negative for left
            sgn = float(n.dot(tcmc))
            assert (sgn > 0) == (f.handedness[h] == "right")


def test_empty_scene():
    cfg = SyntheticConfig(width=W, height=H, scene=SceneConfig(num_hands=0))
    f = render_frame(0, 0, cfg)
    assert f.num_hands == 0 and f.joints_mm.shape == (0, 21, 3)
    assert not ((f.instance >= 0) & (f.instance < OBJECT_INSTANCE)).any()


def test_roi_matches_full_render():
    full = render_frame(9, 1, CLEAN2)
    u0, v0, w, h = 40, 30, 64, 48
    win = render_frame(9, 1, SyntheticConfig(width=W, height=H, clean=True, scene=CLEAN2.scene,
                                             roi=(u0, v0, w, h)))
    assert win.color.shape == (h, w, 3)
    assert np.allclose(win.cam, full.cam - np.array([0, 0, u0, v0], np.float32))
    assert (win.depth == full.depth[v0:v0 + h, u0:u0 + w]).mean() > 0.995
    assert np.array_equal(win.joints_mm, full.joints_mm)


def test_sequence_smooth_and_deterministic():
    cfg = SyntheticConfig(width=64, height=48)
    seq = list(render_sequence(2, 40, 30.0, cfg, second_hand_at=0.5))
    stamps = np.array([s for s, _ in seq])
    assert np.allclose(np.diff(stamps), 1 / 30.0)
    nh = [f.num_hands for _, f in seq]
    assert nh[0] == 1 and nh[-1] == 2
    for (_, a), (_, b) in zip(seq[:-1], seq[1:]):
        step = np.linalg.norm(b.joints_mm[0] - a.joints_mm[0], axis=-1).max()
        assert step < 60.0  # mm per frame at 30 Hz
    again = list(render_sequence(2, 40, 30.0, cfg, second_hand_at=0.5))
    assert all(np.array_equal(a.color, b.color) for (_, a), (_, b) in zip(seq, again))


def test_synthetic_sequences_reader_is_render_sequence_behind_the_dataset_interface():
    cfg = SyntheticConfig(width=64, height=48)
    r = SyntheticSequences([5, 2], num_frames=6, config=cfg)
    assert len(r) == 12 and r.sequences == ["seed_5", "seed_2"]
    assert r.sequence_indices() == {"seed_5": list(range(6)), "seed_2": list(range(6, 12))}
    assert r.sample_info(7) == {"sequence": "seed_2", "seed": 2, "frame": 1}
    want = [f for _, f in render_sequence(2, 6, 30.0, cfg)]
    for k in (6, 9, 11):  # the second sequence, rendered on first access, frame for frame
        got = r[k]
        assert np.array_equal(got.depth, want[k - 6].depth) and np.array_equal(got.joints_mm, want[k - 6].joints_mm)
        assert got.stamp == pytest.approx((k - 6) / 30.0) and got.handedness == want[k - 6].handedness
    assert np.array_equal(r[0].color, next(iter(render_sequence(5, 6, 30.0, cfg)))[1].color)  # back to the first
    with pytest.raises(IndexError):
        r[12]
    for bad in ([], [3, 3]):
        with pytest.raises(ValueError):
            SyntheticSequences(bad, num_frames=6, config=cfg)
    with pytest.raises(ValueError):
        SyntheticSequences([1], num_frames=0, config=cfg)


def test_split_roundtrip(tmp_path):
    cfg = SyntheticConfig(width=96, height=72)
    write_split(tmp_path / "s", 3, 21, cfg)
    ds = SyntheticSplit(tmp_path / "s")
    assert len(ds) == 3
    for i, f in enumerate(ds):
        g = render_frame(21, i, cfg)
        assert np.array_equal(f.color, g.color) and np.array_equal(f.depth, g.depth)
        assert f.depth.dtype == np.uint16
        assert np.array_equal(f.instance, g.instance)
        assert np.allclose(f.joints_mm, g.joints_mm) and np.array_equal(f.visible, g.visible)
        assert f.handedness == g.handedness and np.allclose(f.cam, g.cam)


def test_clis(tmp_path):
    from helpers.cli import run_cli

    res = run_cli("kpfusion_ros.tools.make_splits", "--out", str(tmp_path / "sp"), "--num", "2", "--seed", "1",
                  "--width", "64", "--height", "48", "--num-hands", "1")
    assert res.returncode == 0, res.stderr[-3000:]
    assert len(SyntheticSplit(tmp_path / "sp")) == 2
    res = run_cli("kpfusion_ros.tools.contact_sheet", "--out", str(tmp_path / "sheet.png"), "--num", "2", "--seed",
                  "0", "--width", "64", "--height", "48")
    assert res.returncode == 0, res.stderr[-3000:]
    assert (tmp_path / "sheet.png").stat().st_size > 0
    res = run_cli("kpfusion_ros.tools.contact_sheet", "--crops", "--out", str(tmp_path / "crops.png"), "--num", "3",
                  "--cols", "2")
    assert res.returncode == 0, res.stderr[-3000:]
    import cv2

    sheet = cv2.imread(str(tmp_path / "crops.png"))
    assert sheet.shape == (2 * (128 + 4), 2 * (2 * 128 + 6), 3)  # 3 crops in 2 columns, colour | depth each
    assert sheet[:128, 128:256].std() > 1.0  # a depth tile with something in it
    res = run_cli("kpfusion_ros.tools.contact_sheet", "--crops", "--out", str(tmp_path / "c.png"), "--num", "1",
                  "--real-root", str(tmp_path))
    assert res.returncode != 0 and "--real-out" in res.stderr
    res = run_cli("kpfusion_ros.tools.make_splits", "--help")
    assert res.returncode == 0 and "usage:" in res.stdout
