"""The kpfusion node over real DDS, in the private network namespace.

One node process (the installed executable, as `ros2 run` starts it) serves the
module; the test publishes rendered RGB-D frames with known joints on its input
topics and checks what it publishes.
"""

from __future__ import annotations

import itertools
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO, in_private_netns, ros_available

sys.path.insert(0, str(Path(__file__).parent / "helpers"))

pytestmark = pytest.mark.skipif(not ros_available(), reason="needs the colcon install: run `make test`")

SHIPPED = REPO / "models" / "kpfusion_lite.pt"
#: With the shipped weights, the mean joint error on these clean synthetic frames (localiser + tracker +
#: network, end to end) must stay below this. Measured through HandPosePipeline on the same three frames:
#: 21, 36 and 42 mm (mean 33 mm); the model's own MPJPE with ground-truth-centred crops is 24 mm
#: (models/kpfusion_lite.json). A localiser that centred on the forearm gave 114 mm here.
MPJPE_TOLERANCE_M = 0.040
_stamps = itertools.count(1_700_000_000_000_000_000, 50_000_000)


def _frames(num_hands=1, n=4, seed=11):
    from kpfusion_ros.data.synthetic import SceneConfig, SyntheticConfig, render_frame

    # uncluttered scenes: these tests are about the node; the localiser has its own tests
    scene = SceneConfig(num_hands=num_hands, clutter=(0, 0), p_occluder=0.0, p_near_object=0.0, p_grasp=0.0,
                        p_edge=0.0, p_table=0.0)
    cfg = SyntheticConfig(width=320, height=240, clean=True, scene=scene)
    return [render_frame(seed, i, cfg) for i in range(n)]


class Rig:
    """Test-side ROS node: publishes inputs, records the kpfusion node's outputs."""

    def __init__(self, ctx):
        import rclpy
        from diagnostic_msgs.msg import DiagnosticArray
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.qos import QoSProfile, ReliabilityPolicy
        from tf2_msgs.msg import TFMessage
        from visualization_msgs.msg import MarkerArray

        from kpfusion_ros.msg import HandPoseArray

        self.node = rclpy.create_node("kpfusion_test_rig", context=ctx)
        self.ex = SingleThreadedExecutor(context=ctx)
        self.ex.add_node(self.node)
        rel = QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE)
        self.poses, self.markers, self.tf, self.diag = {}, [], [], []
        self.node.create_subscription(HandPoseArray, "/kpfusion/hand_poses", self._on_pose, rel)
        self.node.create_subscription(MarkerArray, "/kpfusion/markers", self.markers.append, rel)
        self.node.create_subscription(TFMessage, "/tf", self.tf.append, QoSProfile(depth=100))
        self.node.create_subscription(DiagnosticArray, "/diagnostics", self.diag.append, rel)
        self.pubs = {}

    def _on_pose(self, msg):
        ns = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
        self.poses[ns] = msg

    def publishers(self, reliability: str):
        if reliability not in self.pubs:
            from rclpy.qos import QoSProfile, ReliabilityPolicy
            from sensor_msgs.msg import CameraInfo, Image

            q = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE if reliability == "reliable"
                           else ReliabilityPolicy.BEST_EFFORT)
            self.pubs[reliability] = (self.node.create_publisher(Image, "/cam/color", q),
                                      self.node.create_publisher(Image, "/cam/depth", q),
                                      self.node.create_publisher(CameraInfo, "/cam/info", q))
        return self.pubs[reliability]

    def spin(self, seconds: float, until=None):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.ex.spin_once(timeout_sec=0.02)
            if until is not None and until():
                return True
        return until() if until is not None else True

    def wait_matched(self, reliability: str, timeout=20.0):
        pubs = self.publishers(reliability)
        assert self.spin(timeout, lambda: all(p.get_subscription_count() > 0 for p in pubs)), \
            "the node never subscribed to the input topics"

    def send(self, frame, *, reliability="reliable", depth_encoding="16UC1", stamp_ns=None, wait=True,
             timeout=60.0, depth_offset_ns=0):
        from ros_frames import frame_messages

        stamp_ns = next(_stamps) if stamp_ns is None else stamp_ns
        color, depth, info = frame_messages(frame, stamp_ns, depth_encoding=depth_encoding)
        if depth_offset_ns:
            _, depth, _ = frame_messages(frame, stamp_ns + depth_offset_ns, depth_encoding=depth_encoding)
        pc, pd, pi = self.publishers(reliability)
        end = time.monotonic() + timeout
        while True:
            pc.publish(color)
            pd.publish(depth)
            pi.publish(info)
            if not wait:
                return stamp_ns
            # Right after discovery a best-effort reader may not have matched the writer yet and the
            # set is lost; re-sending the same stamps is harmless (the node skips duplicate stamps).
            if self.spin(min(5.0, max(end - time.monotonic(), 0.0)), lambda: stamp_ns in self.poses):
                return stamp_ns
            assert time.monotonic() < end, f"no HandPoseArray for stamp {stamp_ns}"

    def close(self):
        self.ex.shutdown()
        self.node.destroy_node()


@pytest.fixture(scope="module")
def rig():
    if not in_private_netns():
        pytest.fail("DDS tests must run inside the private network namespace: use `make test`")
    import rclpy
    from rclpy.context import Context

    domain = 150 + os.getpid() % 50
    env = dict(os.environ, ROS_DOMAIN_ID=str(domain), ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST")
    import kpfusion_ros

    exe = Path(kpfusion_ros.__file__).resolve().parents[4] / "lib" / "kpfusion_ros" / "kpfusion_node"
    model = str(SHIPPED) if SHIPPED.is_file() else "random:lite"
    proc = subprocess.Popen(
        [str(exe), "--ros-args", "-p", "color_topic:=/cam/color", "-p", "depth_topic:=/cam/depth",
         "-p", "camera_info_topic:=/cam/info", "-p", f"model_path:={model}", "-p", "device:=cpu",
         "-p", "diagnostics_period:=0.5"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    ctx = Context()
    rclpy.init(context=ctx, domain_id=domain)
    r = Rig(ctx)
    r.model = model
    try:
        r.wait_matched("reliable")
        yield r
    finally:
        r.close()
        rclpy.shutdown(context=ctx)
        proc.terminate()
        try:
            out, _ = proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
        r.log = out
        print(out[-4000:])


def _mpjpe_m(pose_msg, joints_mm):
    pred = np.array([[p.x, p.y, p.z] for p in pose_msg.joints])
    return float(np.nanmean(np.linalg.norm(pred - joints_mm / 1000.0, axis=1)))


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
    s = next(_stamps)
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
