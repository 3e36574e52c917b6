"""The demo recording's generator is deterministic, and the demo (player + node + recorder) runs end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import ros_available

REPO = Path(__file__).resolve().parents[1]
SHIPPED = REPO / "models" / "kpfusion_lite.pt"
MODEL = str(SHIPPED) if SHIPPED.is_file() else "random:lite"
needs_ros = pytest.mark.skipif(not ros_available(), reason="needs the ROS 2 messages (the colcon install): run `make test`")


def _make(out: Path, frames: int = 6, w: int = 160, h: int = 120, seed: int = 3):
    from kpfusion_ros.demo.recording import make_bag

    return make_bag(out, seed=seed, frames=frames, width=w, height=h, progress=False)


@needs_ros
def test_demo_bag_generation_is_deterministic(tmp_path):
    from kpfusion_ros.ros import bagio

    a, b = tmp_path / "a" / "bag", tmp_path / "b" / "bag"
    counts = _make(a, frames=4)
    _make(b, frames=4)
    assert set(counts.values()) == {4}
    ma, mb = list(bagio.read_messages(a)), list(bagio.read_messages(b))
    assert len(ma) == len(mb) == 20
    assert [(t, ty, s, bytes(r)) for t, ty, s, r in ma] == [(t, ty, s, bytes(r)) for t, ty, s, r in mb]
    assert (a / "bag.mcap").read_bytes() == (b / "bag.mcap").read_bytes()
    assert (a / "metadata.yaml").read_text() == (b / "metadata.yaml").read_text()
    # realsense-like content; ground truth in metres in the optical frame; message definitions embedded
    msgs = {}
    for topic, typ, t, raw in ma:
        msgs.setdefault(topic, []).append((t, bagio.deserialize(raw, typ)))
    color = msgs[bagio.COLOR_TOPIC][0][1]
    depth = msgs[bagio.DEPTH_TOPIC][0][1]
    info = msgs[bagio.INFO_TOPIC][0][1]
    assert (color.encoding, depth.encoding, color.width, color.height) == ("rgb8", "16UC1", 160, 120)
    assert color.header.frame_id == depth.header.frame_id == info.header.frame_id == "camera_color_optical_frame"
    stamps = [bagio.stamp_ns(m.header.stamp) for _, m in msgs[bagio.COLOR_TOPIC]]
    assert stamps == [t for t, _ in msgs[bagio.COLOR_TOPIC]]
    assert np.allclose(np.diff(stamps), 1e9 / 30, atol=1)
    gt = msgs[bagio.GT_TOPIC][0][1]
    assert gt.hands and 0.2 < gt.hands[0].joints[0].z < 1.5
    assert b"MSG: std_msgs/Header" in (a / "bag.mcap").read_bytes()


@needs_ros
def test_score_matches_hands_by_centre_within_80mm():
    from kpfusion_ros.msg import HandPose, HandPoseArray
    from geometry_msgs.msg import Point
    from kpfusion_ros.demo.scoring import score

    def arr(offsets, sides=None):
        a = HandPoseArray()
        for k, off in enumerate(offsets):
            h = HandPose(id=k, handedness=(sides or [HandPose.HANDEDNESS_UNKNOWN] * len(offsets))[k])
            h.joints = [Point(x=off + 0.001 * j, y=0.0, z=0.5) for j in range(21)]
            h.joint_confidence = np.ones(21, dtype=np.float32)
            a.hands.append(h)
        return a

    gt = {1: arr([0.0, 0.3])}
    pred = {1: arr([0.31, 0.01])}  # reversed order, 10 mm off each
    s = score(gt, pred)
    assert s["matched_hands"] == 2 and s["mpjpe_mm"] == pytest.approx(10.0, abs=1e-6)
    assert s["missed_hands"] == 0 and s["false_positives"] == 0

    # a prediction far from every ground-truth hand is a false positive, not a 200 mm error
    pred = {1: arr([0.05, 0.5])}  # 50 mm from the first, 200 mm from the second
    s = score(gt, pred)
    assert s["matched_hands"] == 1 and s["mpjpe_mm"] == pytest.approx(50.0, abs=1e-6)
    assert s["missed_hands"] == 1 and s["false_positives"] == 1 and s["match_centre_mm"] == pytest.approx(80.0)
    # frames without output are not scored; nothing matched gives no MPJPE
    s = score({1: arr([0.0]), 2: arr([0.0])}, {2: arr([0.2])})
    assert s["scored_frames"] == 1 and s["matched_hands"] == 0 and s["mpjpe_mm"] is None
    # the matched hands' published side against the ground truth's (unmatched hands are not counted)
    L, R, U = HandPose.HANDEDNESS_LEFT, HandPose.HANDEDNESS_RIGHT, HandPose.HANDEDNESS_UNKNOWN
    gt = {1: arr([0.0, 0.3], [L, R]), 2: arr([0.0, 0.3], [L, R]), 3: arr([0.0], [R])}
    pred = {1: arr([0.31, 0.01], [R, L]), 2: arr([0.01, 0.31], [R, U]), 3: arr([0.5], [R])}
    assert score(gt, pred)["handedness"] == {"correct": 2, "wrong": 1, "unknown": 1}


def test_demo_runs_end_to_end(ros_domain, tmp_path):
    bag = tmp_path / "rec"
    _make(bag, frames=6)
    out = tmp_path / "out"
    cmd = [sys.executable, "-P", "-m", "kpfusion_ros.tools.demo", "--bag", str(bag), "--out", str(out),
           "--model", MODEL, "--device", "cpu", "--node-arg", "refine_iterations:=0"]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=dict(os.environ))
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert "kpfusion demo summary" in res.stdout and "frames out" in res.stdout
    summary = json.loads((out / "summary.json").read_text())
    for key in ("frames_in", "frames_out", "dropped_stale_by_node", "latency_ms_p50", "latency_ms_p95",
                "mpjpe_mm", "files", "output_counts"):
        assert key in summary
    assert summary["frames_in"] == 6 and summary["ground_truth"] is True
    assert 1 <= summary["frames_out"] <= 6
    from PIL import Image

    with Image.open(out / summary["files"]["gif"]) as im:
        assert im.size == (160, 120)
    for p in summary["files"]["png"]:
        with Image.open(out / p) as im:
            assert im.size == (160, 120)
    from kpfusion_ros.ros import bagio

    topics = bagio.bag_topics(out / "output_bag")
    assert topics["/kpfusion/hand_poses"].count == summary["frames_out"]
    in_stamps = {t for _, _, t, _ in bagio.read_messages(bag, [bagio.COLOR_TOPIC])}
    for _, typ, _, raw in bagio.read_messages(out / "output_bag", ["/kpfusion/hand_poses"]):
        assert bagio.stamp_ns(bagio.deserialize(raw, typ).header.stamp) in in_stamps
    assert "/kpfusion/markers" in topics


def test_summary_says_latency_is_not_measured_in_lockstep():
    from kpfusion_ros.demo.summary import format_summary

    s = {"bag": "b", "model": "m", "device": "cpu", "frames_in": 3, "rate": 1.0, "lockstep": False,
         "sets_received_by_node": 3, "frames_out": 3, "dropped_stale_by_node": 0, "not_synchronized": 0,
         "bad_frames": 0, "latency_ms_p50": 12.5, "latency_ms_p95": 20.0, "inference_ms_p50": 9.0,
         "ground_truth": True, "mpjpe_mm": 30.0, "mpjpe_mm_median": 29.0, "gt_hands_scored": 3,
         "gt_hands_matched": 2, "match_centre_mm": 80.0, "false_positives": 1, "out": "o", "files": {},
         "output_counts": {}, "wall_s": 1.0}
    out = format_summary(s)
    assert "latency       p50 12.5 ms, p95 20.0 ms" in out
    assert "over 2/3 ground-truth hands matched (same stamp, centres within 80 mm); 1 false positives" in out
    out = format_summary(dict(s, lockstep=True, latency_ms_p50=0.0, latency_ms_p95=0.0))
    assert "latency       n/a in lockstep" in out and "inference p50 9.0 ms" in out and "p50 0.0 ms" not in out
