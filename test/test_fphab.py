"""F-PHAB reader (kpfusion_ros/data/fphab.py) on fixtures written in the official layout.

Every image here is drawn by test/fphab_fixture.py (no real frames). Registration is checked
against closed-form projections: a known 3D point lands on its registered pixel, the nearer of two
surfaces wins, holes stay 0; the joints come back in the colour frame and in the network order.
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
import fphab_fixture as fx  # noqa: E402

from kpfusion_ros.data.fphab import (  # noqa: E402
    FPHAB, FPHAB_CALIBRATION, FPHAB_TO_NETWORK, NETWORK_TO_FPHAB, FPHABCalibration, fphab_to_network,
    network_to_fphab, project_mm, read_skeleton, register_depth, scale_intrinsics)

SEQ = "Subject_1/put_salt/1"


def _colour_point(calib: FPHABCalibration, p_depth: np.ndarray) -> np.ndarray:
    """Independent X_c = R·X_d + t."""
    return np.asarray(calib.rotation, dtype=np.float64) @ p_depth + np.asarray(calib.translation_mm)


def _pixel_point(calib: FPHABCalibration, u: float, v: float, z: float) -> np.ndarray:
    fx_, fy_, cx, cy = calib.depth_intrinsics
    return np.array([(u - cx) * z / fx_, (v - cy) * z / fy_, z])


# ------------------------------------------------------------------------------------ calibration

def test_readme_calibration_constants():
    c = FPHAB_CALIBRATION
    assert c.depth_intrinsics == (475.065948, 475.065857, 315.944855, 245.287079)
    assert c.color_intrinsics == (1395.749023, 1395.749268, 935.732544, 540.681030)
    assert c.translation_mm == (25.7, 1.22, 3.902)
    assert c.depth_size == (640, 480) and c.color_size == (1920, 1080)
    R = np.asarray(c.rotation)
    np.testing.assert_allclose(R @ R.T, np.eye(3), atol=2e-5)
    assert R[0, 1] == pytest.approx(-0.00468848412856) and R[2, 1] == pytest.approx(0.00274303671904)
    # the default registration size is the colour image / 3, with the intrinsics scaled accordingly
    fx_, fy_, cx, cy = c.color_camera((640, 360))
    assert fx_ == pytest.approx(1395.749023 / 3) and fy_ == pytest.approx(1395.749268 / 3)
    assert cx == pytest.approx((935.732544 + 0.5) / 3 - 0.5) and cy == pytest.approx((540.681030 + 0.5) / 3 - 0.5)


def test_scale_intrinsics_matches_cv2_resize_geometry():
    """A dot drawn at a sub-pixel position of a big image lands where the scaled intrinsics say after INTER_AREA."""
    big = np.zeros((300, 600), np.float32)
    big[150:153, 417:420] = 1.0  # centre (418, 151)
    small = cv2.resize(big, (200, 100), interpolation=cv2.INTER_AREA)
    v, u = np.mgrid[0:100, 0:200]
    cu, cv_ = (small * u).sum() / small.sum(), (small * v).sum() / small.sum()
    # a point at pixel x of the big image has x' = (x + 0.5)·s − 0.5 in the small one
    _, _, x, y = scale_intrinsics((1.0, 1.0, 418.0, 151.0), (600, 300), (200, 100))
    assert abs(cu - x) < 1e-4 and abs(cv_ - y) < 1e-4


# ------------------------------------------------------------------------------------ joint order

def test_joint_order_table_follows_the_anatomy():
    """FPHAB_TO_NETWORK equals the table built from the joint names (TMCP = thumb CMC, TPIP = thumb MCP, …)."""
    from kpfusion_ros.data.fphab import FPHAB_JOINT_NAMES

    assert FPHAB_JOINT_NAMES == fx.FPHAB_README_ORDER
    want = tuple(fx.FPHAB_README_ORDER.index(next(f for f, n in fx.FPHAB_NAME_TO_NETWORK_NAME.items() if n == net))
                 for net in fx.NET_NAMES)
    assert FPHAB_TO_NETWORK == want
    assert sorted(FPHAB_TO_NETWORK) == list(range(21))
    j = np.random.default_rng(0).normal(size=(3, 21, 3))
    np.testing.assert_array_equal(network_to_fphab(fphab_to_network(j)), j)
    np.testing.assert_array_equal(fphab_to_network(fx.to_fphab_order(j[0])), j[0])
    assert [FPHAB_TO_NETWORK[k] for k in NETWORK_TO_FPHAB] == list(range(21))


# ------------------------------------------------------------------------------------ registration

def test_known_point_lands_on_its_registered_pixel_magnified():
    """TINY rig, colour at its native size (≈3 colour pixels per depth pixel): an isolated near pixel covers
    a block whose centroid is its projection (< 0.5 px) and that holds its colour-frame depth."""
    c = fx.TINY
    depth = np.full((48, 64), 900, np.uint16)
    rng = np.random.default_rng(1)
    for _ in range(5):
        u0, v0 = int(rng.integers(8, 56)), int(rng.integers(8, 40))
        z0 = float(rng.integers(300, 600))
        d = depth.copy()
        d[v0, u0] = z0
        reg = register_depth(d, c, c.color_size)
        P = _colour_point(c, _pixel_point(c, u0, v0, z0))
        uv = project_mm(P, c.color_camera())
        mask = np.abs(reg - P[2]) < 0.5
        vv, uu = np.nonzero(mask)
        assert mask.sum() >= 4
        assert abs(uu.mean() - uv[0]) < 0.5 and abs(vv.mean() - uv[1]) < 0.5
        assert mask[int(round(uv[1])), int(round(uv[0]))]
        # every pixel of the block lies within half a footprint (≈ 1.5 px) of the projection
        assert np.abs(uu - uv[0]).max() <= 1.6 and np.abs(vv - uv[1]).max() <= 1.6


def test_known_point_lands_on_its_registered_pixel_fphab_rig():
    """The dataset's rig at the default 640×360: a near 3×3 patch's centre point lands on the pixel nearest its
    projection, and every registered pixel of the patch is within 0.5 px of one of its points' projections."""
    c = FPHAB_CALIBRATION
    rng = np.random.default_rng(2)
    for _ in range(4):
        u0, v0 = int(rng.integers(100, 540)), int(rng.integers(80, 400))
        z0 = float(rng.integers(300, 700))
        d = np.zeros((480, 640), np.uint16)
        d[v0 - 1:v0 + 2, u0 - 1:u0 + 2] = z0
        reg = register_depth(d, c, (640, 360))
        cam = c.color_camera((640, 360))
        P = _colour_point(c, _pixel_point(c, u0, v0, z0))
        uv = project_mm(P, cam)
        assert abs(float(reg[int(round(uv[1])), int(round(uv[0]))]) - P[2]) < 0.2
        src = np.array([project_mm(_colour_point(c, _pixel_point(c, u, v, z0)), cam)
                        for u in (u0 - 1, u0, u0 + 1) for v in (v0 - 1, v0, v0 + 1)])
        vv, uu = np.nonzero(reg)
        assert 4 <= len(vv) <= 12
        cheb = np.abs(np.stack([uu, vv], 1)[:, None, :] - src[None]).max(-1).min(1)
        assert cheb.max() <= 0.5 + 1e-6


def test_zbuffer_keeps_the_nearer_surface():
    """A near patch in front of a far plane: the baseline's parallax moves the patch over far-plane pixels in
    the colour view; where both land, the registered depth is the near one."""
    c = FPHAB_CALIBRATION
    far = np.full((480, 640), 1000, np.uint16)
    d = far.copy()
    d[200:260, 300:340] = 300
    reg = register_depth(d, c)
    reg_far = register_depth(far, c)
    cam = c.color_camera((640, 360))
    corners = np.array([project_mm(_colour_point(c, _pixel_point(c, u, v, 300.0)), cam)
                        for u in (300, 339) for v in (200, 259)])
    u0, u1 = int(np.ceil(corners[:, 0].min())) + 1, int(np.floor(corners[:, 0].max())) - 1
    v0, v1 = int(np.ceil(corners[:, 1].min())) + 1, int(np.floor(corners[:, 1].max())) - 1
    inside = reg[v0:v1 + 1, u0:u1 + 1]
    assert inside.size > 300
    # the far plane alone covers those pixels too: both surfaces land there ...
    assert (reg_far[v0:v1 + 1, u0:u1 + 1] > 900).all()
    # ... and the near one wins everywhere
    np.testing.assert_allclose(inside, 300 + 3.902, atol=2.5)
    # the far plane's pixels that the patch does not cover are untouched
    assert abs(float(reg[300, 100]) - float(reg_far[300, 100])) < 1e-3


def test_holes_stay_zero():
    c = FPHAB_CALIBRATION
    d = np.full((480, 640), 1000, np.uint16)
    d[100:140, 400:460] = 0          # an invalid block
    d[200:260, 300:340] = 300        # a near patch: its left side disoccludes the far plane
    reg = register_depth(d, c)
    cam = c.color_camera((640, 360))
    # the invalid block's projection (shrunk by a pixel) is empty
    q = np.array([project_mm(_colour_point(c, _pixel_point(c, u, v, 1000.0)), cam)
                  for u in (400, 459) for v in (100, 139)])
    hu0, hu1 = int(np.ceil(q[:, 0].min())) + 1, int(np.floor(q[:, 0].max())) - 1
    hv0, hv1 = int(np.ceil(q[:, 1].min())) + 1, int(np.floor(q[:, 1].max())) - 1
    assert hu1 > hu0 and hv1 > hv0
    assert (reg[hv0:hv1 + 1, hu0:hu1 + 1] == 0).all()
    # disocclusion: left of the patch the colour camera sees far plane the depth camera could not
    left_near = project_mm(_colour_point(c, _pixel_point(c, 300, 230, 300.0)), cam)
    right_far = project_mm(_colour_point(c, _pixel_point(c, 299, 230, 1000.0)), cam)  # last far pixel left of it
    gap = np.arange(int(np.ceil(right_far[0] + 1)), int(np.floor(left_near[0] - 1)))
    assert len(gap) >= 10  # ≈ fx·t_x·(1/300 − 1/1000) ≈ 28 px, less the pixel edges
    assert (reg[int(round(left_near[1])), gap] == 0).all()
    # outside the depth camera's view (the colour camera sees wider at the left edge): 0
    assert (reg[:, 0] == 0).all()
    # no value is invented: every registered value is a colour-frame depth of one of the two planes
    vals = reg[reg > 0]
    assert ((np.abs(vals - 303.9) < 3) | (np.abs(vals - 1004) < 8)).all()


def test_register_depth_rejects_bad_input():
    with pytest.raises(ValueError, match="calibration is for 640×480"):
        register_depth(np.zeros((48, 64), np.uint16))
    with pytest.raises(ValueError, match="H×W"):
        register_depth(np.zeros((480, 640, 3), np.uint16))
    # NaN / negative / inf depth is invalid, not garbage
    d = np.full((48, 64), np.nan, np.float32)
    d[10, 10] = -5
    d[11, 11] = np.inf
    assert not register_depth(d, fx.TINY, (64, 36)).any()


# ------------------------------------------------------------------------------------ the reader

@pytest.fixture
def tiny_root(tmp_path):
    root = tmp_path / "fphab"
    fx.write_sequence(root, SEQ, fx.moving_hand(3), fx.TINY, extra_lines=("0007 " + " ".join(["0"] * 63),))
    fx.write_sequence(root, "Subject_10/open_juice_bottle/2", fx.moving_hand(2, first=5), fx.TINY)
    fx.write_sequence(root, "Subject_2/put_salt/1", fx.moving_hand(2), fx.TINY)
    return root


def test_reader_layout_order_and_frame_contents(tiny_root):
    r = FPHAB(tiny_root, calibration=fx.TINY, color_size=(96, 54))
    assert r.sequences == [SEQ, "Subject_2/put_salt/1", "Subject_10/open_juice_bottle/2"]  # natural order
    assert len(r) == 7 and r.num_skipped == 1  # the all-zero line of frame 7 has no annotation
    assert r.sequence_indices() == {SEQ: [0, 1, 2], "Subject_2/put_salt/1": [3, 4],
                                    "Subject_10/open_juice_bottle/2": [5, 6]}
    f = r[6]
    assert f.handedness == ("right",) and f.num_hands == 1
    assert f.stamp == pytest.approx(6 / 30.0) and f.index == 6
    assert f.color.shape == (54, 96, 3) and f.color.dtype == np.uint8
    assert f.depth.shape == (54, 96) and f.depth.dtype == np.uint16
    np.testing.assert_allclose(f.cam, scale_intrinsics(fx.TINY.color_intrinsics, (192, 108), (96, 54)), rtol=1e-6)
    # colour: the decoded JPEG (BGR → RGB), INTER_AREA-resized
    raw = cv2.imread(str(tiny_root / "Video_files/Subject_10/open_juice_bottle/2/color/color_0006.jpeg"))
    np.testing.assert_array_equal(f.color, cv2.resize(raw[:, :, ::-1], (96, 54), interpolation=cv2.INTER_AREA))
    # depth: the registration of the depth file
    rawd = cv2.imread(str(tiny_root / "Video_files/Subject_10/open_juice_bottle/2/depth/depth_0006.png"), -1)
    np.testing.assert_array_equal(f.depth, np.rint(register_depth(rawd, fx.TINY, (96, 54))).astype(np.uint16))
    assert [fr.index for fr in r.iter_sequence("Subject_2/put_salt/1")] == [3, 4]
    info = r.sample_info(0)
    assert info["sequence"] == SEQ and info["frame"] == 0 and info["handedness"] == "right"
    assert Path(info["color"]).name == "color_0000.jpeg" and Path(info["depth"]).name == "depth_0000.png"
    # selection by sequence or prefix
    assert FPHAB(tiny_root, sequences=["Subject_2"], calibration=fx.TINY).sequences == ["Subject_2/put_salt/1"]
    assert FPHAB(tiny_root, sequences=[SEQ + "/"], calibration=fx.TINY).sequences == [SEQ]
    assert FPHAB(tiny_root, sequences="Subject_2", calibration=fx.TINY).sequences == ["Subject_2/put_salt/1"]
    assert len(FPHAB(tiny_root, sequences=["Subject_1"], calibration=fx.TINY)) == 3  # not Subject_10


def test_joints_in_the_colour_frame_and_network_order(tiny_root):
    r = FPHAB(tiny_root, calibration=fx.TINY, color_size=(192, 108))
    truth = dict(fx.moving_hand(3))
    for i in range(3):
        f = r[i]
        want = np.stack([_colour_point(fx.TINY, p) for p in truth[i]])  # network order, colour frame
        np.testing.assert_allclose(f.joints_mm[0], want, atol=1e-3)
        np.testing.assert_allclose(r.sample_info(i)["joints_mm"], want, atol=1e-3)
        assert f.visible.shape == (1, 21) and f.visible.all()


def test_joint_lands_on_the_hand_in_the_registered_depth(tiny_root):
    """Each joint is a sphere centre (radius 10 mm): the registered depth at the joint's colour pixel is the
    sphere's front, ≈ z_joint − 10 mm (colour frame), for joints not hidden by another sphere."""
    r = FPHAB(tiny_root, calibration=fx.TINY, color_size=(192, 108))
    f = r[1]
    uv = np.rint(project_mm(f.joints_mm[0], f.cam)).astype(int)
    z_reg = f.depth[uv[:, 1], uv[:, 0]].astype(np.float64)
    dz = f.joints_mm[0, :, 2] - z_reg
    # at least the 14 joints nearest the camera front their pixel; none is behind the surface by much
    assert (np.abs(dz - 10.0) < 2.5).sum() >= 14
    assert (dz > 5.0).all()


def test_reader_at_the_dataset_rig_default_size(tmp_path):
    root = tmp_path / "fphab"
    fx.write_sequence(root, SEQ, fx.moving_hand(1))
    f = FPHAB(root)[0]
    assert f.color.shape == (360, 640, 3) and f.depth.shape == (360, 640)
    uv = np.rint(project_mm(f.joints_mm[0], f.cam)).astype(int)
    dz = f.joints_mm[0, :, 2] - f.depth[uv[:, 1], uv[:, 0]]
    assert np.median(np.abs(dz - 10.0)) < 1.5


# ------------------------------------------------------------------------------------ errors

def test_skeleton_errors(tmp_path):
    p = tmp_path / "skeleton.txt"
    p.write_text("0 " + " ".join(["1"] * 62) + "\n")
    with pytest.raises(ValueError, match=r"skeleton.txt:1: expected 64 values"):
        read_skeleton(p)
    p.write_text("0 " + " ".join(["1"] * 63) + "\n\n1 " + " ".join(["x"] * 63) + "\n")
    with pytest.raises(ValueError, match=r"skeleton.txt:3: not a number"):
        read_skeleton(p)
    p.write_text(("3 " + " ".join(["1"] * 63) + "\n") * 2)
    with pytest.raises(ValueError, match="frame 3 appears more than once"):
        read_skeleton(p)
    p.write_text("2.5 " + " ".join(["1"] * 63) + "\n")
    with pytest.raises(ValueError, match="non-negative integer"):
        read_skeleton(p)
    p.write_text("\n")
    with pytest.raises(ValueError, match="no skeleton lines"):
        read_skeleton(p)
    with pytest.raises(FileNotFoundError, match="skeleton file not found"):
        read_skeleton(tmp_path / "nope.txt")
    frames, joints = read_skeleton(_write_ok(p))
    assert frames.tolist() == [4, 2] and joints.shape == (2, 21, 3) and joints[1, 20, 2] == 63


def _write_ok(p):
    p.write_text("4 " + " ".join(["1"] * 63) + "\n2 " + " ".join(str(k) for k in range(1, 64)) + "\n")
    return p


def test_reader_errors(tiny_root, tmp_path):
    with pytest.raises(FileNotFoundError, match="F-PHAB root not found"):
        FPHAB(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="annotation directory not found"):
        FPHAB(tmp_path / "empty")
    with pytest.raises(FileNotFoundError, match="has no skeleton.txt"):
        FPHAB(tiny_root, sequences=["Subject_3/put_salt/1"], calibration=fx.TINY)
    with pytest.raises(ValueError, match="color_size"):
        FPHAB(tiny_root, color_size=(0, 10), calibration=fx.TINY)
    # annotations without video: skipped (listed) when reading everything, an error when asked for
    (tiny_root / "Hand_pose_annotation_v1/Subject_4/pour_milk/1").mkdir(parents=True)
    (tiny_root / "Hand_pose_annotation_v1/Subject_4/pour_milk/1/skeleton.txt").write_text(
        fx.skeleton_line(0, np.ones((21, 3))) + "\n")
    r = FPHAB(tiny_root, calibration=fx.TINY)
    assert r.missing_video == ["Subject_4/pour_milk/1"] and "Subject_4/pour_milk/1" not in r.sequences
    with pytest.raises(FileNotFoundError, match="video directory not found"):
        FPHAB(tiny_root, sequences=["Subject_4"], calibration=fx.TINY)
    # file-level problems surface when the frame is read, naming the file
    vdir = tiny_root / "Video_files" / SEQ
    (vdir / "color/color_0001.jpeg").unlink()
    with pytest.raises(FileNotFoundError, match="color_0001.jpeg"):
        r[1]
    (vdir / "color/color_0002.jpeg").write_bytes(b"not a jpeg")
    with pytest.raises(ValueError, match="cannot decode colour image"):
        r[2]
    cv2.imwrite(str(vdir / "depth/depth_0000.png"), np.zeros((48, 64, 3), np.uint8))
    with pytest.raises(ValueError, match="single-channel 16-bit"):
        r[0]
    cv2.imwrite(str(vdir / "depth/depth_0000.png"), np.zeros((40, 64), np.uint16))
    with pytest.raises(ValueError, match="depth image is 64×40, the calibration is for 64×48"):
        r[0]
    rd = FPHAB(tiny_root, sequences=["Subject_2"], calibration=fx.TINY)
    cv2.imwrite(str(tiny_root / "Video_files/Subject_2/put_salt/1/color/color_0000.jpeg"),
                np.zeros((50, 60, 3), np.uint8))
    with pytest.raises(ValueError, match="colour image is 60×50, the calibration is for 192×108"):
        rd[0]
    # a skeleton line of the wrong length fails at construction, naming file and line
    (tiny_root / "Hand_pose_annotation_v1/Subject_2/put_salt/1/skeleton.txt").write_text("0 1 2 3\n")
    with pytest.raises(ValueError, match=r"Subject_2/put_salt/1/skeleton.txt:1"):
        FPHAB(tiny_root, sequences=["Subject_2"], calibration=fx.TINY)
    with pytest.raises(IndexError):
        FPHAB(tiny_root, sequences=[SEQ], calibration=fx.TINY)[5]


def test_calibration_validation():
    with pytest.raises(ValueError, match="rotation"):
        FPHABCalibration(rotation=((1, 0, 0), (0, 1, 0), (0, 0, -1)))
    with pytest.raises(ValueError, match="depth_intrinsics"):
        FPHABCalibration(depth_intrinsics=(0.0, 1.0, 1.0, 1.0))


# ------------------------------------------------------------------------------------ the tools

@pytest.fixture
def rig_root(tmp_path):
    root = tmp_path / "fphab"
    fx.write_sequence(root, SEQ, fx.moving_hand(2))
    return root


def test_dataset_choice_opens_the_reader(rig_root):
    from kpfusion_ros.data.datasets import dataset_reader

    r = dataset_reader("fphab", str(rig_root), fphab_sequences=[SEQ])
    assert isinstance(r, FPHAB) and r.sequences == [SEQ] and len(r) == 2
    assert len(dataset_reader("fphab", str(rig_root))) == 2
    with pytest.raises(FileNotFoundError, match="Subject_9"):
        dataset_reader("fphab", str(rig_root), fphab_sequences=["Subject_9"])


def test_kpfusion_eval_and_train_run_on_fphab(rig_root, tmp_path):
    import json

    import torch

    from kpfusion_ros.checkpoint import save_checkpoint
    from kpfusion_ros.model import build_model, preset
    from helpers.cli import run_cli

    torch.manual_seed(0)
    cfg = preset("lite", trunk_widths=(8, 8, 16, 16), feature_dim=16, num_points=64, fa_samples=8)
    ckpt = tmp_path / "tiny.pt"
    save_checkpoint(str(ckpt), build_model(cfg), cfg, {"source": "test"})
    out = tmp_path / "eval.json"
    r = run_cli("kpfusion_ros.tools.evaluate", "--checkpoint", str(ckpt), "--dataset", "fphab", "--data-root",
                str(rig_root), "--fphab-sequences", SEQ, "--protocols", "gt_crops", "--json", str(out), "--quiet",
                "--batch-frames", "2")
    assert r.returncode == 0, r.stderr
    res = json.loads(out.read_text())
    assert res["gt_crops"]["final"]["count"] == 2 and res["gt_crops"]["final"]["mpjpe_mm"] > 0
    assert res["gt_crops"]["final_by_hand"]["right"] == pytest.approx(res["gt_crops"]["final"]["mpjpe_mm"])
    r = run_cli("kpfusion_ros.tools.train", "--preset", "lite", "--set", "trunk_widths=[8,8,16,16]", "feature_dim=16",
                "num_points=64", "fa_samples=8", "--steps", "2", "--frames-per-step", "2", "--dataset", "fphab",
                "--data-root", str(rig_root), "--out", str(tmp_path / "run"), "--eval-frames", "0", "--quiet",
                "--no-resume")
    assert r.returncode == 0, r.stderr
    assert len((tmp_path / "run" / "metrics.csv").read_text().strip().splitlines()) >= 2
