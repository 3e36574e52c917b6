"""The kpfusion node over real DDS, in the private network namespace.

One node process (the installed executable, as `ros2 run` starts it) serves the
module; the test publishes rendered RGB-D frames with known joints on its input
topics and checks what it publishes.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from conftest import REPO, in_private_netns, ros_available

pytestmark = pytest.mark.skipif(not ros_available(), reason="needs the colcon install: run `make test`")

SHIPPED = REPO / "models" / "kpfusion_lite.pt"
#: With the shipped weights, the mean joint error on these clean synthetic frames (localiser + tracker +
#: network, end to end) must stay below this. Measured through HandPosePipeline on the same three frames:
#: 21, 36 and 42 mm (mean 33 mm); the model's own MPJPE with ground-truth-centred crops is 24 mm
#: (models/kpfusion_lite.json). A localiser that centred on the forearm gave 114 mm here.
MPJPE_TOLERANCE_M = 0.040


def _frames(num_hands=1, n=4, seed=11):
    from kpfusion_ros.data.synthetic.presets import clean_frames

    # uncluttered scenes: these tests are about the node; the localiser has its own tests
    return clean_frames(num_hands, 320, 240, n=n, seed=seed)


@pytest.fixture(scope="module")
def rig():
    if not in_private_netns():
        pytest.fail("DDS tests must run inside the private network namespace: use `make test`")
    from kpfusion_ros.ros.harness import start_rig, stop_rig

    model = str(SHIPPED) if SHIPPED.is_file() else "random:lite"
    # Every tracked hand is published here: these tests are about the node's messages on clean frames. The default
    # min_hand_confidence 0.6 drops one of the three hands of the accuracy test (its track's verifier score, and
    # so its confidence, is 0.475); the gate has its own tests (test_handedness.py) and its trade-off is measured
    # in docs/real_frames.md.
    r = start_rig(150 + os.getpid() % 50, "diagnostics_period:=0.5", "min_hand_confidence:=0.0", model=model,
                  stamp_step_ns=50_000_000)
    r.model = model
    try:
        yield r
    finally:
        r.log = stop_rig(r)
        print(r.log[-3000:])


def _mpjpe_m(pose_msg, joints_mm):
    """Mean joint error of a published HandPose (public order) against rendered joints (network order)."""
    from kpfusion_ros.joints import reorder

    pred = np.array([[p.x, p.y, p.z] for p in pose_msg.joints])
    gt = reorder(np.asarray(joints_mm, dtype=np.float64), "network", "public") / 1000.0
    return float(np.nanmean(np.linalg.norm(pred - gt, axis=1)))


@pytest.mark.parametrize("reliability,depth_encoding", [("reliable", "16UC1"), ("best_effort", "32FC1"),
                                                        ("best_effort", "16UC1"), ("reliable", "32FC1")])
def test_one_pose_array_per_frame_with_the_color_stamp_and_optical_frame(rig, reliability, depth_encoding):
    rig.wait_matched(reliability)
    frames = _frames(num_hands=1, n=1)
    stamps = [rig.send(frames[0], reliability=reliability, depth_encoding=depth_encoding) for _ in range(4)]
    for s in stamps:
        msg = rig.poses[s]
        assert msg.header.frame_id == "camera_color_optical_frame"
        assert msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec == s
    # the same hand for 4 frames: confirmed by the tracker (3 hits) and published with a stable id
    gt = frames[0].joints_mm[0] / 1000.0
    last = rig.poses[stamps[-1]]
    assert len(last.hands) == 1
    hand = last.hands[0]
    assert len(rig.poses[stamps[-2]].hands) == 1 and rig.poses[stamps[-2]].hands[0].id == hand.id
    joints = np.array([[p.x, p.y, p.z] for p in hand.joints])
    assert np.all(np.isfinite(joints))
    # metres in the optical frame: the crop centre is where the hand is (within the 250 mm cube)
    centre = np.array([hand.crop_center.x, hand.crop_center.y, hand.crop_center.z])
    assert np.linalg.norm(centre - gt.mean(axis=0)) < 0.125
    assert np.all(np.abs(joints - centre) < 0.25)
    # pixels are the projection of the joints with the published intrinsics
    fx, fy, cx, cy = frames[0].cam
    u = joints[:, 0] * fx / joints[:, 2] + cx
    assert np.allclose(np.asarray(hand.pixel_u), u, atol=1e-2)
    assert 0.0 <= hand.confidence <= 1.0 and np.all(np.asarray(hand.joint_confidence) <= 1.0)
    assert hand.roi.width > 0 and hand.roi.height > 0


@pytest.mark.skipif(not SHIPPED.is_file(), reason="accuracy needs the shipped weights models/kpfusion_lite.pt")
def test_joints_are_close_to_ground_truth_with_the_shipped_weights(rig):
    errs = []
    for f in _frames(num_hands=1, n=3, seed=23):
        for _ in range(4):  # let the tracker confirm and re-centre
            s = rig.send(f)
        msg = rig.poses[s]
        assert len(msg.hands) == 1
        errs.append(_mpjpe_m(msg.hands[0], f.joints_mm[0]))
    assert float(np.mean(errs)) < MPJPE_TOLERANCE_M, errs


def test_markers_and_tf_match_the_published_poses(rig):
    frame = _frames(num_hands=1, n=1, seed=5)[0]
    for _ in range(4):
        s = rig.send(frame)
    rig.spin(1.0)
    msg = rig.poses[s]
    assert msg.hands
    hand = msg.hands[0]
    joints = np.array([[p.x, p.y, p.z] for p in hand.joints])
    from kpfusion_ros.joints import JOINT_NAMES

    tfs = {t.child_frame_id: t for m in rig.tf for t in m.transforms
           if t.header.stamp.sec * 1_000_000_000 + t.header.stamp.nanosec == s}
    assert set(tfs) == {f"hand_{hand.id}/{n}" for n in JOINT_NAMES}
    for j, name in enumerate(JOINT_NAMES):
        t = tfs[f"hand_{hand.id}/{name}"]
        assert t.header.frame_id == "camera_color_optical_frame"
        tr = t.transform.translation
        assert np.allclose([tr.x, tr.y, tr.z], joints[j], atol=1e-9)
    arrays = [m for m in rig.markers if m.markers and any(
        mk.header.stamp.sec * 1_000_000_000 + mk.header.stamp.nanosec == s for mk in m.markers)]
    assert arrays
    spheres = next(mk for mk in arrays[-1].markers if mk.id == hand.id * 10 and mk.action == 0)
    pts = np.array([[p.x, p.y, p.z] for p in spheres.points])
    assert np.allclose(pts, joints, atol=1e-9)


def test_empty_scene_gives_an_empty_array(rig):
    empty = _frames(num_hands=0, n=1)[0]
    for _ in range(2):
        s = rig.send(empty)
    assert list(rig.poses[s].hands) == []
    # vanished hands' markers are deleted
    rig.spin(0.5)
    assert any(mk.action == 2 for m in rig.markers[-3:] for mk in m.markers) or all(
        not m.markers for m in rig.markers[-2:])


def test_unsynchronizable_inputs_never_produce_output(rig):
    frame = _frames(num_hands=1, n=1)[0]
    before = len(rig.poses)
    s = rig.next_stamp()
    rig.send(frame, stamp_ns=s, wait=False, depth_offset_ns=400_000_000)  # depth 0.4 s later, slop 0.05 s
    rig.spin(3.0)
    assert s not in rig.poses and s + 400_000_000 not in rig.poses
    assert len(rig.poses) == before


def test_a_slow_model_drops_stale_frames_instead_of_queueing(rig):
    frames = _frames(num_hands=2, n=1, seed=3)
    sent = [rig.send(frames[0], wait=False) for _ in range(20)]
    for _ in range(20):
        rig.ex.spin_once(timeout_sec=0.001)
    assert rig.spin(60.0, lambda: sent[-1] in rig.poses), "the newest frame was never processed"
    rig.spin(1.5)
    got = [s for s in sent if s in rig.poses]
    assert len(got) < len(sent)  # a CPU forward pass is much slower than 20 frames in a burst
    vals = {kv.key: kv.value for kv in rig.diag[-1].status[0].values}
    assert int(vals["sets_dropped_stale"]) > 0
    assert int(vals["frames_published"]) >= len(got)
