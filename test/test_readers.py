"""Real-dataset readers (DexYCB JSON / toolkit layout, HO-3D) on tiny fixtures written in the
exact on-disk formats, from known joints, intrinsics, depth and colour."""

from __future__ import annotations

import json
import pickle

import cv2
import numpy as np
import pytest
import torch
import yaml

from kpfusion_ros.data.dexycb import DexYCBJson, DexYCBToolkit, depth_path_from_color
from kpfusion_ros.data.ho3d import HO3D, HO3D_DEPTH_SCALE_M, decode_depth, encode_depth, ours_mm_to_ho3d
from kpfusion_ros.data.synthetic import HandFrame
from kpfusion_ros.joints import NUM_JOINTS, order_index
from kpfusion_ros.preprocessing import crop_hands, labels_from_joints, predictions_to_camera
from helpers.cli import run_cli

W, H = 64, 48
CAM = (80.0, 82.0, 31.5, 23.5)
SUBJ, SEQ, SERIAL = "20200709-subject-01", "20200709_141754", "836212060125"
RED_BLOCK = (slice(8, 24), slice(16, 32))  # 8×8-aligned so JPEG keeps it pure
# native → network order tables (test_joints.py checks them against reference §3)
DEXYCB_TO_NETWORK = order_index("dexycb", "network")
HO3D_TO_NETWORK = order_index("ho3d", "network")


def known_joints(seed: int) -> np.ndarray:
    """21×3 mm, network order, OpenCV camera frame, inside the 64×48 view."""
    rng = np.random.default_rng(seed)
    j = rng.uniform(-50, 50, (NUM_JOINTS, 3))
    j[:, 2] += 500.0
    return j.round(3)


def to_native(ours: np.ndarray, to_ours) -> np.ndarray:
    """Inverse of ``native[to_ours]``: build the fixture in the dataset's own order."""
    native = np.full_like(ours, np.nan)
    native[np.asarray(to_ours)] = ours
    assert np.isfinite(native).all()
    return native


def known_color(seed: int) -> np.ndarray:
    """H×W×3 RGB with a pure-red block."""
    rng = np.random.default_rng(100 + seed)
    rgb = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
    rgb[RED_BLOCK] = (255, 0, 0)
    return rgb


def known_depth_mm(seed: int) -> np.ndarray:
    rng = np.random.default_rng(200 + seed)
    d = rng.uniform(300.0, 1500.0, (H, W))
    d[:3, :3] = 0.0  # invalid pixels
    return d


def write_rgb(path, rgb):
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), rgb[:, :, ::-1].copy())  # cv2 writes BGR


def assert_red(frame: HandFrame, exact: bool):
    block = frame.color[RED_BLOCK].reshape(-1, 3).astype(int)
    if exact:
        assert (block == (255, 0, 0)).all()
    else:  # JPEG (lossy, chroma-subsampled): the block's core stays red; swapped channels would be 255 off
        core = frame.color[RED_BLOCK][4:12, 4:12].reshape(-1, 3).astype(int)
        assert np.abs(core - (255, 0, 0)).max() <= 12
    assert frame.color.dtype == np.uint8 and frame.color.shape == (H, W, 3)


def assert_neutral_fields(f: HandFrame, n: int = 1):
    assert f.joints_mm.dtype == np.float32 and f.joints_mm.shape == (n, 21, 3)
    assert f.cam.dtype == np.float32 and f.cam.shape == (4,)
    assert f.visible.shape == (n, 21) and f.visible.dtype == bool
    assert f.instance.shape == (H, W) and f.instance.dtype == np.int8 and (f.instance == -1).all()
    assert f.joint_radius_mm.shape == (n, 21) and (f.joint_radius_mm == 0).all()


# ---------------------------------------------------------------------------------------
# DexYCB, authors' JSON
# ---------------------------------------------------------------------------------------

@pytest.fixture
def dex_json(tmp_path):
    """3 annotated images: right hand, left hand, no hand (all −1); joints in mm, DexYCB order."""
    root = tmp_path / "dexycb"
    images, anns, truth = [], [], []
    sides = ["right", "left", "right"]
    for k in range(3):
        rel = f"{SUBJ}/{SEQ}/{SERIAL}/color_{k:06d}.jpg"
        color = root / rel
        write_rgb(color, known_color(k))
        d = np.rint(known_depth_mm(k)).astype(np.uint16)
        assert cv2.imwrite(str(depth_path_from_color(color)), d)
        ours = known_joints(k)
        native = to_native(ours, DEXYCB_TO_NETWORK) if k < 2 else -np.ones((21, 3))
        cam = (CAM[0] + k, CAM[1] + k, CAM[2], CAM[3])
        images.append(dict(id=10 + k, color_file_name=rel, height=H, width=W))
        anns.append(dict(id=k, image_id=10 + k, joints_coord_cam=native.tolist(),
                         cam_param=dict(focal=cam[:2], princpt=cam[2:]), hand_type=sides[k],
                         mano_param=dict(pose=[0.0] * 48, shape=[0.0] * 10, trans=[0.0] * 3)))
        truth.append(dict(joints=ours, depth=d, cam=cam, side=sides[k], color=color))
    (root / "annotations").mkdir(parents=True)
    with open(root / "annotations" / "DEX_YCB_s0_test_data.json", "w") as fh:
        json.dump(dict(images=images, annotations=anns), fh)
    return root, truth


def test_dexycb_json_reads_known_frames(dex_json):
    root, truth = dex_json
    ds = DexYCBJson(root, setup="s0", split="test")
    assert len(ds) == 2 and ds.num_skipped == 1  # the all −1 frame is skipped
    for k in range(2):
        f = ds[k]
        assert isinstance(f, HandFrame)
        assert_neutral_fields(f)
        np.testing.assert_allclose(f.joints_mm[0], truth[k]["joints"], atol=1e-3)  # mm, network order
        np.testing.assert_allclose(f.cam, truth[k]["cam"])
        assert f.handedness == (truth[k]["side"],)
        assert f.depth.dtype == np.uint16 and np.array_equal(f.depth, truth[k]["depth"])
        assert f.visible.all()
        assert_red(f, exact=False)
    assert ds[1].stamp == pytest.approx(1 / 30)
    # Python-style indices: negative from the end; out of range is an IndexError naming the size
    np.testing.assert_array_equal(ds[-1].joints_mm, ds[1].joints_mm)
    with pytest.raises(IndexError, match="index 2 out of range for 2 frames"):
        ds[2]
    with pytest.raises(IndexError):
        ds[-3]


def test_dataset_reader_by_name(dex_json):
    from kpfusion_ros.data.datasets import DATASETS, dataset_reader

    root, _ = dex_json
    assert dataset_reader("synthetic", "") is None
    ds = dataset_reader("dexycb", str(root), split="test", setup="s0")
    assert isinstance(ds, DexYCBJson) and len(ds) == 2
    assert set(DATASETS) >= {"synthetic", "dexycb", "dexycb-toolkit", "ho3d"}
    with pytest.raises(ValueError, match="unknown dataset 'nope'"):
        dataset_reader("nope", str(root))
    with pytest.raises(ValueError, match="ho3d needs a data root"):
        dataset_reader("ho3d", "")


def test_dexycb_json_errors(dex_json, tmp_path):
    root, truth = dex_json
    with pytest.raises(FileNotFoundError, match="DEX_YCB_s1_test_data.json"):
        DexYCBJson(root, setup="s1")
    js = root / "annotations" / "DEX_YCB_s0_test_data.json"
    db = json.loads(js.read_text())
    del db["annotations"][1]["joints_coord_cam"]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(db))
    with pytest.raises(ValueError, match=r"annotations\[1\].*joints_coord_cam"):
        DexYCBJson(root, annotation_file=bad)
    db = json.loads(js.read_text())
    db["annotations"][0]["cam_param"] = dict(focal=[1.0, 2.0])
    bad.write_text(json.dumps(db))
    with pytest.raises(ValueError, match="princpt"):
        DexYCBJson(root, annotation_file=bad)
    ds = DexYCBJson(root)
    missing = depth_path_from_color(truth[1]["color"])
    missing.unlink()
    ds[0]
    with pytest.raises(FileNotFoundError, match=str(missing)):
        ds[1]


# ---------------------------------------------------------------------------------------
# DexYCB, native toolkit layout
# ---------------------------------------------------------------------------------------

@pytest.fixture
def dex_toolkit(tmp_path):
    """One left-hand sequence, one camera, 3 frames (frame 1 has no hand); joints in metres."""
    root = tmp_path / "dexycb_native"
    seq = root / SUBJ / SEQ
    cam_dir = seq / SERIAL
    truth = {}
    for k in range(3):
        write_rgb(cam_dir / f"color_{k:06d}.jpg", known_color(k))
        d = np.rint(known_depth_mm(k)).astype(np.uint16)
        assert cv2.imwrite(str(cam_dir / f"aligned_depth_to_color_{k:06d}.png"), d)
        ours = known_joints(10 + k)
        j3d = (to_native(ours, DEXYCB_TO_NETWORK) / 1000.0)[None].astype(np.float32) if k != 1 \
            else -np.ones((1, 21, 3), np.float32)
        np.savez_compressed(cam_dir / f"labels_{k:06d}.npz", joint_3d=j3d,
                            joint_2d=np.zeros((1, 21, 2), np.float32),
                            seg=np.zeros((H, W), np.uint8), pose_y=np.zeros((1, 3, 4), np.float32),
                            pose_m=np.zeros((1, 51), np.float32))
        truth[k] = dict(joints=ours, depth=d)
    with open(seq / "meta.yml", "w") as fh:
        yaml.safe_dump(dict(serials=[SERIAL], mano_sides=["left"], mano_calib=["mano_x"], ycb_ids=[1],
                            ycb_grasp_ind=0, num_frames=3), fh)
    intr = root / "calibration" / "intrinsics"
    intr.mkdir(parents=True)
    with open(intr / f"{SERIAL}_640x480.yml", "w") as fh:
        yaml.safe_dump(dict(color=dict(fx=CAM[0], fy=CAM[1], ppx=CAM[2], ppy=CAM[3]),
                            depth=dict(fx=1.0, fy=1.0, ppx=0.0, ppy=0.0)), fh)
    return root, truth


def test_dexycb_toolkit_reads_known_frames(dex_toolkit):
    root, truth = dex_toolkit
    ds = DexYCBToolkit(root)
    assert len(ds) == 2 and ds.num_skipped == 1
    for i, k in enumerate((0, 2)):
        f = ds[i]
        assert_neutral_fields(f)
        # metres (float32 in the npz) → mm, DexYCB order → ours
        np.testing.assert_allclose(f.joints_mm[0], truth[k]["joints"], atol=1e-3)
        np.testing.assert_allclose(f.cam, CAM)
        assert f.handedness == ("left",) and not f.is_right[0]
        assert np.array_equal(f.depth, truth[k]["depth"])
        assert_red(f, exact=False)
        assert ds.sample_info(i)["frame"] == k
    with pytest.raises(IndexError, match="out of range for 2 frames"):
        ds[5]
    assert len(DexYCBToolkit(root, serials=["000"])) == 0
    assert len(DexYCBToolkit(root, subjects=["subject-01"])) == 2
    assert len(DexYCBToolkit(root, subjects=["subject-02"])) == 0


def test_dexycb_toolkit_errors(dex_toolkit):
    root, _ = dex_toolkit
    ds = DexYCBToolkit(root)
    depth = root / SUBJ / SEQ / SERIAL / "aligned_depth_to_color_000002.png"
    depth.unlink()
    with pytest.raises(FileNotFoundError, match=str(depth)):
        ds[1]
    calib = root / "calibration" / "intrinsics" / f"{SERIAL}_640x480.yml"
    calib.unlink()
    with pytest.raises(FileNotFoundError, match=str(calib)):
        DexYCBToolkit(root)[0]
    meta = root / SUBJ / SEQ / "meta.yml"
    meta.write_text("serials: [x]\n")
    with pytest.raises(ValueError, match="mano_sides"):
        DexYCBToolkit(root)


# ---------------------------------------------------------------------------------------
# HO-3D
# ---------------------------------------------------------------------------------------

def toolkit_encode(depth_mm: np.ndarray) -> np.ndarray:
    """The HO-3D toolkit's write_depth_img, written out independently of the reader."""
    code = np.uint32(depth_mm / 1000.0 / HO3D_DEPTH_SCALE_M)
    enc = np.zeros(depth_mm.shape + (3,), np.uint8)
    d1 = code >> 8
    enc[:, :, 1] = d1
    enc[:, :, 2] = code - (d1 << 8)
    return enc


def write_ho3d(root, split, version, frames):
    """frames: list of (seq, fid, handJoints3D-or-None, rgb, depth_mm)."""
    ext = ".jpg" if version == "v3" else ".png"
    K = np.array([[CAM[0], 0, CAM[2]], [0, CAM[1], CAM[3]], [0, 0, 1]])
    for seq, fid, hj, rgb, dmm in frames:
        base = root / split / seq
        write_rgb(base / "rgb" / f"{fid}{ext}", rgb)
        (base / "depth").mkdir(parents=True, exist_ok=True)
        assert cv2.imwrite(str(base / "depth" / f"{fid}.png"), toolkit_encode(dmm))
        (base / "meta").mkdir(parents=True, exist_ok=True)
        meta = dict(handJoints3D=hj, camMat=K, handBoxes=None, objName="003_cracker_box",
                    handPose=np.zeros(48), handTrans=np.zeros(3), handBeta=np.zeros(10))
        with open(base / "meta" / f"{fid}.pkl", "wb") as fh:
            pickle.dump(meta, fh, protocol=2)


def gl_native(ours_mm: np.ndarray) -> np.ndarray:
    """Our mm/OpenCV/our-order joints → HO-3D metres/OpenGL/HO-3D order, built by hand."""
    native = to_native(ours_mm, HO3D_TO_NETWORK) / 1000.0
    native[:, 1:] *= -1.0
    return native


@pytest.mark.parametrize("version", ["v3", "v2"])
def test_ho3d_reads_known_frames(tmp_path, version):
    root = tmp_path / "HO3D"
    truth = [known_joints(20), known_joints(21)]
    dmm = [known_depth_mm(5), known_depth_mm(6), known_depth_mm(7)]
    write_ho3d(root, "train", version, [
        ("ABF10", "0000", gl_native(truth[0]), known_color(0), dmm[0]),
        ("ABF10", "0001", None, known_color(1), dmm[1]),  # no hand annotation
        ("MC1", "0005", gl_native(truth[1]), known_color(2), dmm[2]),
    ])
    ds = HO3D(root, split="train", version=version)
    assert len(ds) == 2 and ds.num_skipped == 1
    for i, k in enumerate((0, 2)):
        f = ds[i]
        assert_neutral_fields(f)
        np.testing.assert_allclose(f.joints_mm[0], truth[i], atol=1e-3)  # flip, order and mm
        np.testing.assert_allclose(ours_mm_to_ho3d(f.joints_mm[0]), gl_native(truth[i]), atol=1e-6)
        np.testing.assert_allclose(f.cam, CAM)
        assert f.handedness == ("right",) and f.visible.all()
        assert f.depth.dtype == np.uint16
        assert np.abs(f.depth.astype(float) - dmm[k]).max() <= 0.5 + 0.125
        assert_red(f, exact=version == "v2")  # v2 rgb is PNG: lossless
    fl = HO3D(root, split="train", version=version, depth_dtype="float32")[1]
    err = fl.depth - dmm[2]
    assert fl.depth.dtype == np.float32 and (err <= 1e-3).all() and (err > -0.125 - 1e-3).all()
    assert (fl.depth[:3, :3] == 0).all()
    assert len(HO3D(root, split="train", version=version, keep_unlabelled=True)) == 3


def test_ho3d_decode_depth_known_codes():
    px = np.zeros((1, 2, 3), np.uint8)
    px[0, 0] = (7, 0x0F, 0xA0)  # cv2 BGR: channel 0 is ignored, 2 = low byte, 1 = high byte
    px[0, 1] = (0, 0xFF, 0xFF)
    mm = decode_depth(px)
    scale = HO3D_DEPTH_SCALE_M * 1000.0
    np.testing.assert_allclose(mm[0], [(0xA0 + 0x0F * 256) * scale, 65535 * scale], rtol=1e-6)
    assert decode_depth(px, np.uint16)[0, 0] == round((0xA0 + 0x0F * 256) * scale)
    d = known_depth_mm(1)
    assert np.abs(decode_depth(encode_depth(d)) - d).max() <= 0.125 / 2 + 1e-4
    with pytest.raises(ValueError, match="H×W×3"):
        decode_depth(np.zeros((4, 4), np.uint8))


def test_ho3d_evaluation_split_and_missing_depth(tmp_path):
    root = tmp_path / "HO3D_v3"
    truth = known_joints(30)
    root_joint_gl = gl_native(truth)[0]
    write_ho3d(root, "evaluation", "v3", [
        ("SM1", "0000", root_joint_gl, known_color(0), known_depth_mm(0)),
        ("SM1", "0001", None, known_color(1), known_depth_mm(1)),
    ])
    (root / "evaluation.txt").write_text("SM1/0000\nSM1/0001\n")
    assert len(HO3D(root, split="evaluation")) == 0
    ds = HO3D(root, split="evaluation", keep_unlabelled=True)
    assert len(ds) == 2
    f = ds[0]
    np.testing.assert_allclose(f.joints_mm[0, 0], truth[0], atol=1e-3)  # root = wrist, OpenCV, mm
    assert np.isnan(f.joints_mm[0, 1:]).all() and f.visible[0, 0] and not f.visible[0, 1:].any()
    assert np.isnan(ds[1].joints_mm).all() and not ds[1].visible.any()
    depth = root / "evaluation" / "SM1" / "depth" / "0001.png"
    depth.unlink()
    with pytest.raises(FileNotFoundError, match=str(depth)):
        ds[1]


# ---------------------------------------------------------------------------------------
# the training path
# ---------------------------------------------------------------------------------------

def test_reader_frames_go_through_crop_and_labels(dex_json, dex_toolkit):
    frames = [DexYCBJson(dex_json[0])[0], DexYCBJson(dex_json[0])[1], DexYCBToolkit(dex_toolkit[0])[0]]
    assert [f.handedness[0] for f in frames] == ["right", "left", "left"]
    for f in frames:
        joints = torch.from_numpy(f.joints_mm)
        batch = crop_hands(f.color, f.depth, f.joints_mm.mean(1), f.cam, mirror=~f.is_right, color_order="rgb")
        assert bool(batch.mirrored[0]) == (f.handedness[0] == "left")
        assert bool(batch.valid.all()) and int(batch.num_foreground[0]) > 0
        xyz_nl, uvd_nl = labels_from_joints(joints, batch)
        assert xyz_nl.shape == (1, 21, 3) and uvd_nl.shape == (1, 21, 3)
        assert torch.isfinite(xyz_nl).all() and torch.isfinite(uvd_nl).all()
        assert xyz_nl.abs().max() < 1.0  # the 100 mm hand is inside the 250 mm cube
        # the labels map back to the reader's joints (mirroring undone for left hands)
        back_m, _ = predictions_to_camera(xyz_nl, batch)
        np.testing.assert_allclose(back_m.double().numpy() * 1000.0, f.joints_mm, atol=1e-2)


def test_kpfusion_eval_runs_on_a_dexycb_dataset(dex_json, tmp_path):
    """`kpfusion-eval --dataset dexycb` evaluates a checkpoint on reader frames (both protocols)."""
    import json as _json

    import torch

    from kpfusion_ros.checkpoint import save_checkpoint
    from kpfusion_ros.data.batching import frames_to_batch
    from kpfusion_ros.data.dexycb import DexYCBJson
    from kpfusion_ros.model import build_model, preset

    root, truth = dex_json
    ds = DexYCBJson(root, setup="s0", split="test")
    batch = frames_to_batch([ds[0], ds[1]])
    assert batch.hand_valid.tolist() == [[True, False], [True, False]]
    assert torch.allclose(batch.joints_mm[0, 0], torch.as_tensor(truth[0]["joints"], dtype=torch.float32), atol=1e-3)
    assert batch.is_right[:, 0].tolist() == [True, False]

    torch.manual_seed(0)
    cfg = preset("lite", trunk_widths=(8, 8, 16, 16), feature_dim=16, num_points=64, fa_samples=8)
    ckpt = tmp_path / "tiny.pt"
    save_checkpoint(str(ckpt), build_model(cfg), cfg, {"source": "test"})
    out = tmp_path / "eval.json"
    res = run_cli("kpfusion_ros.tools.evaluate", "--checkpoint", str(ckpt), "--dataset", "dexycb", "--data-root",
               str(root), "--split", "test", "--protocols", "gt_crops,localizer", "--json", str(out), "--quiet",
               "--batch-frames", "2")
    assert res.returncode == 0, res.stderr[-3000:]
    res = _json.loads(out.read_text())
    assert res["gt_crops"]["final"]["count"] == 2  # two annotated hands; the no-hand frame was skipped
    assert res["gt_crops"]["final"]["mpjpe_mm"] > 0


def test_kpfusion_train_runs_on_a_dexycb_dataset(dex_json, tmp_path):
    """`kpfusion-train --dataset dexycb` trains on reader frames (same crops, mirroring, losses)."""
    import json as _json

    from kpfusion_ros.checkpoint import load_checkpoint

    root, _ = dex_json
    export = tmp_path / "tiny.pt"
    res = run_cli("kpfusion_ros.tools.train", "--preset", "lite", "--set", "trunk_widths=[8,8,16,16]", "feature_dim=16",
               "num_points=64", "fa_samples=8", "--steps", "2", "--frames-per-step", "2", "--dataset", "dexycb",
               "--data-root", str(root), "--split", "test", "--out", str(tmp_path / "run"), "--eval-frames", "0",
               "--export", str(export), "--quiet", "--no-resume")
    assert res.returncode == 0, res.stderr[-3000:]
    rows = (tmp_path / "run" / "metrics.csv").read_text().strip().splitlines()
    assert len(rows) >= 2  # header + logged steps
    model, cfg, meta = load_checkpoint(str(export))
    assert meta["provenance"]["source"] == "kpfusion-train (dexycb test)" and meta["provenance"]["steps"] == 2
    assert cfg.feature_dim == 16
