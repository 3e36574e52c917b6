"""Rendered frames as ROS messages, the node's per-frame options, the DDS rig's helpers (no DDS started)."""

from __future__ import annotations

from dataclasses import fields

import numpy as np
import pytest

from conftest import ros_available

pytestmark = pytest.mark.skipif(not ros_available(), reason="needs the colcon install: run `make test`")


@pytest.fixture(scope="module")
def frame():
    from kpfusion_ros.data.synthetic import render_frame
    from kpfusion_ros.data.synthetic.presets import clean_scene_config

    return render_frame(3, 0, clean_scene_config(96, 72, num_hands=1))


def test_frame_messages_round_trip_through_the_nodes_conversions(frame):
    from cv_bridge import CvBridge

    from kpfusion_ros.ros.conversions import color_to_rgb, depth_to_mm, intrinsics_from_info
    from kpfusion_ros.ros.hand_frames import frame_messages

    bridge = CvBridge()
    stamp = 1_700_000_000_123_456_789
    c, d, i = frame_messages(frame, stamp)
    assert (c.header.stamp.sec, c.header.stamp.nanosec) == (1_700_000_000, 123_456_789)
    assert c.header.frame_id == d.header.frame_id == i.header.frame_id == "camera_color_optical_frame"
    assert (c.encoding, c.step, d.encoding, d.step) == ("rgb8", 96 * 3, "16UC1", 96 * 2)
    np.testing.assert_array_equal(color_to_rgb(c, bridge), frame.color)
    np.testing.assert_array_equal(depth_to_mm(d, bridge), frame.depth.astype(np.float32))
    intr = intrinsics_from_info(i)
    np.testing.assert_allclose(intr.as_tuple(), np.asarray(frame.cam, dtype=np.float64))
    assert list(i.r) == [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0] and list(i.d) == [0.0] * 5
    # bgr8 colour and 32FC1 metres (NaN = no depth) give the same arrays
    c8, d32, _ = frame_messages(frame, stamp, color_encoding="bgr8", depth_encoding="32FC1")
    assert (c8.encoding, d32.encoding, d32.step) == ("bgr8", "32FC1", 96 * 4)
    np.testing.assert_array_equal(color_to_rgb(c8, bridge), frame.color)
    raw = np.frombuffer(bytes(d32.data), dtype="<f4").reshape(72, 96)
    assert np.isnan(raw[frame.depth == 0]).all()
    np.testing.assert_allclose(depth_to_mm(d32, bridge), frame.depth.astype(np.float32), atol=1e-3)
    with pytest.raises(ValueError, match="depth_encoding"):
        frame_messages(frame, stamp, depth_encoding="mono16")


def test_ground_truth_msg_has_the_frames_joints_in_metres(frame):
    from kpfusion_ros.joints import order_index
    from kpfusion_ros.ros.hand_frames import frame_messages, ground_truth_msg

    c, _, _ = frame_messages(frame, 5)
    pub = order_index("network", "public")  # the frame's labels are in the network order, HandPose in the public
    gt = ground_truth_msg(frame, c.header)
    assert len(gt.hands) == 1 and gt.hands[0].id == 0
    h = gt.hands[0]
    j = np.array([[p.x, p.y, p.z] for p in h.joints])
    np.testing.assert_allclose(j * 1000.0, frame.joints_mm[0][pub], atol=1e-3)
    np.testing.assert_array_equal(np.asarray(h.joint_confidence) > 0.5, frame.visible[0][pub])
    fx, fy, cx, cy = (float(v) for v in frame.cam)
    np.testing.assert_allclose(h.pixel_u, j[:, 0] * fx / j[:, 2] + cx, rtol=1e-5)
    assert ground_truth_msg(frame, c.header, min_visible=22).hands == []


def test_processing_options_have_the_node_parameters_names_and_defaults():
    from dataclasses import replace

    from kpfusion_ros.node_config import NodeConfig
    from kpfusion_ros.ros.processing import ProcessingOptions, processing_options

    node = NodeConfig()
    for f in fields(ProcessingOptions):
        assert getattr(ProcessingOptions(), f.name) == getattr(node, f.name), f.name
    cfg = replace(node, use_rectified_intrinsics=True, resolution_mismatch="reject", max_future_s=0.5,
                  tf_prefix="left_", marker_lifetime=0.0)
    assert processing_options(cfg) == ProcessingOptions(True, "reject", 0.5, "left_", 0.0)


def test_rig_helpers():
    from kpfusion_ros.ros.harness import latency_stats, node_executable, param_dict

    exe = node_executable()
    assert exe.is_file() and exe.parts[-3:] == ("lib", "kpfusion_ros", "kpfusion_node")
    assert param_dict(["a:=1", "b:=x:=y", "a:=2"]) == {"a": "2", "b": "x:=y"}
    with pytest.raises(ValueError, match="NAME:=VALUE"):
        param_dict(["refine_iterations=0"])
    arrivals = [(s * 1_000_000, s * 1_000_000 + ms * 1_000_000) for s, ms in enumerate([10, 20, 30, 40])]
    st = latency_stats(arrivals, t_from_ns=1_000_000)
    assert st["n"] == 3 and st["p50"] == pytest.approx(30.0) and st["max"] == pytest.approx(40.0)
    assert latency_stats(arrivals, t_from_ns=10**12) == {"n": 0}
