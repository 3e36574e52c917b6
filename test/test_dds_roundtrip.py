"""A HandPoseArray published by one process is received intact by another over real DDS."""

from __future__ import annotations

import math
import subprocess
import sys
import time
from pathlib import Path

import pytest

HELPERS = Path(__file__).parent / "helpers"
sys.path.insert(0, str(HELPERS))


def _same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


def test_hand_pose_array_crosses_processes_intact(rclpy_context):
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.qos import QoSProfile, ReliabilityPolicy

    from handpose_fixture import make_hand_pose_array
    from kpfusion_ros.msg import HandPoseArray

    proc = subprocess.Popen([sys.executable, str(HELPERS / "publish_handposes.py"), "30"])
    node = rclpy.create_node("handpose_test_listener", context=rclpy_context)
    got = []
    node.create_subscription(HandPoseArray, "hand_poses", got.append,
                             QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE))
    ex = SingleThreadedExecutor(context=rclpy_context)
    ex.add_node(node)
    try:
        deadline = time.monotonic() + 30
        while not got and time.monotonic() < deadline:
            ex.spin_once(timeout_sec=0.1)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        ex.shutdown()
        node.destroy_node()
    assert got, "no HandPoseArray received within 30 s"
    sent, recv = make_hand_pose_array(), got[0]
    assert recv.header.stamp.sec == sent.header.stamp.sec
    assert recv.header.stamp.nanosec == sent.header.stamp.nanosec
    assert recv.header.frame_id == "camera_color_optical_frame"
    assert len(recv.hands) == 2
    for hs, hr in zip(sent.hands, recv.hands):
        assert (hr.id, hr.handedness, hr.roi.x_offset, hr.roi.width) == (hs.id, hs.handedness, hs.roi.x_offset, hs.roi.width)
        assert hr.confidence == pytest.approx(hs.confidence, abs=1e-7)  # float32 on the wire
        for ps, pr in zip(hs.joints, hr.joints):
            assert all(_same(getattr(ps, c), getattr(pr, c)) for c in "xyz")
        assert all(_same(float(a), float(b)) for a, b in zip(hs.pixel_u, hr.pixel_u))
        assert list(hr.joint_confidence) == pytest.approx(list(hs.joint_confidence))
    assert math.isnan(recv.hands[1].joints[5].x)
