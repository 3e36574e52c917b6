"""Faults around the kpfusion node over real DDS: camera driver restarts, RViz subscriber churn,
parameter changes at run time (valid applied, invalid and read-only rejected with a reason)."""

from __future__ import annotations

import os

import pytest

from conftest import in_private_netns, ros_available
from kpfusion_ros.ros.harness import start_rig, stop_rig
from test_bad_input import good_frame, render

pytestmark = pytest.mark.skipif(not ros_available(), reason="needs the colcon install: run `make test`")


@pytest.fixture(scope="module")
def rig():
    if not in_private_netns():
        pytest.fail("DDS tests must run inside the private network namespace: use `make test`")
    r = start_rig(60 + os.getpid() % 40)
    try:
        yield r
    finally:
        r.log = stop_rig(r)
        print(r.log[-3000:])


def test_camera_driver_restart_resumes(rig):
    rig.send(good_frame())
    for _ in range(2):
        rig.destroy_publishers()
        rig.spin(0.5)
        rig.make_publishers()
        rig.wait_matched()
        # a restarted camera streams: the first sets may go out before the node's readers matched the new
        # writers (volatile durability), so keep publishing until the node's output resumes
        sent = []
        for _ in range(100):
            sent.append(rig.send(good_frame(), wait=False))
            if rig.spin(0.3, lambda: any(s in rig.poses for s in sent)):
                break
        assert any(s in rig.poses for s in sent), "the node did not resume after the publishers were recreated"
        rig.send(good_frame())
    assert rig.proc.proc.poll() is None


def test_rviz_subscriber_churn_and_debug_image_only_while_subscribed(rig):
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import Image
    from visualization_msgs.msg import MarkerArray

    q = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE)
    debug = []
    for k in range(4):
        subs = [rig.node.create_subscription(MarkerArray, "/kpfusion/markers", lambda m: None, q),
                rig.node.create_subscription(Image, "/kpfusion/debug_image", debug.append, q)]
        n = len(debug)
        rig.spin(0.3)
        assert rig.spin(10, lambda: len(debug) > n or (rig.send(good_frame()) and len(debug) > n)), \
            "no debug image while subscribed"
        for s in subs:
            rig.node.destroy_subscription(s)
        rig.send(good_frame())  # published frames between churn cycles
    # after the last subscriber left, frames are processed but no debug image is computed
    rig.spin(1.0)
    before = int(rig.fresh_diag()["debug_images_published"])
    for _ in range(3):
        rig.send(good_frame())
    after = rig.fresh_diag()
    assert int(after["debug_images_published"]) == before
    assert rig.proc.proc.poll() is None


def _set(rig, **params):
    from rclpy.parameter import Parameter
    from rclpy.parameter_client import AsyncParameterClient

    cli = AsyncParameterClient(rig.node, "kpfusion")
    assert cli.wait_for_services(timeout_sec=10)
    fut = cli.set_parameters([Parameter(k, value=v) for k, v in params.items()])
    assert rig.spin(10, fut.done)
    return fut.result().results


def _get(rig, name):
    from rclpy.parameter_client import AsyncParameterClient

    cli = AsyncParameterClient(rig.node, "kpfusion")
    fut = cli.get_parameters([name])
    assert rig.spin(10, fut.done)
    v = fut.result().values[0]
    return {2: v.integer_value, 3: v.double_value, 4: v.string_value, 1: v.bool_value}[v.type]


def test_valid_parameter_changes_are_applied(rig):
    # max_hands=1 with two hands in view: at most one hand published
    two = render(num_hands=2, n=1, seed=3)[0]
    (r,) = _set(rig, max_hands=1)
    assert r.successful, r.reason
    assert _get(rig, "max_hands") == 1
    for _ in range(4):
        s = rig.send(two)
        assert len(rig.poses[s].hands) <= 1
    # min_range beyond the hands: nothing found
    (r,) = _set(rig, min_range=1.19)
    assert r.successful, r.reason
    for _ in range(8):  # a confirmed track coasts for up to TrackerConfig.max_misses (5) frames
        s = rig.send(good_frame())
    assert list(rig.poses[s].hands) == []
    assert all(x.successful for x in _set(rig, max_hands=2, min_range=0.2))
    for _ in range(4):
        s = rig.send(good_frame())
    assert len(rig.poses[s].hands) == 1
    # min_hand_score 1: above the verifier's p(hand) of this clean hand (0.99999): the hand is no longer tracked
    (r,) = _set(rig, min_hand_score=1.0)
    assert r.successful, r.reason
    for _ in range(8):
        s = rig.send(good_frame())
    assert list(rig.poses[s].hands) == []
    (r,) = _set(rig, min_hand_score=0.1)
    assert r.successful, r.reason
    for _ in range(4):
        s = rig.send(good_frame())
    assert len(rig.poses[s].hands) == 1


@pytest.mark.parametrize("name,value,reason", [
    ("max_hands", 0, "max_hands must be in"),
    ("min_range", 5.0, "min_range < max_range"),
    ("max_range", 1200.0, "looks like millimetres"),
    ("resolution_mismatch", "crop", "resolution_mismatch must be one of"),
    ("tf_prefix", "/abs", "tf_prefix must not start with '/'"),
    ("max_hands", "two", "max_hands must be an integer"),  # wrong type
    ("publish_tf", 1, "publish_tf must be true or false"),
    ("min_hand_score", 1.5, "min_hand_score must be in [0, 1]"),
])
def test_invalid_parameter_values_are_rejected_with_a_reason(rig, name, value, reason):
    before = _get(rig, name)
    (r,) = _set(rig, **{name: value})
    assert not r.successful
    assert reason in r.reason
    assert _get(rig, name) == before
    rig.send(good_frame())


@pytest.mark.parametrize("name,value", [("model_path", "random:official"), ("device", "cpu"), ("queue_size", 3),
                                        ("qos_overrides./cam/color.subscription.reliability", "reliable")])
def test_read_only_parameters_are_rejected(rig, name, value):
    (r,) = _set(rig, **{name: value})
    assert not r.successful
    assert "read-only" in r.reason.lower() or "read only" in r.reason.lower(), r.reason


def test_integer_for_a_double_parameter_is_taken_at_run_time(rig):
    """`ros2 param set /kpfusion min_hand_score 0` sends an INTEGER: taken as 0.0, not refused."""
    (r,) = _set(rig, min_hand_score=0)
    assert r.successful, r.reason
    assert _get(rig, "min_hand_score") == 0
    (r,) = _set(rig, min_hand_score=0.1)
    assert r.successful, r.reason
    rig.send(good_frame())


def test_parameter_types_at_start_up(ros_domain):
    """`-p max_range:=1` (an INTEGER for a DOUBLE) is taken, not a crash at declaration; a value of
    the wrong kind makes the executable exit non-zero with the parameter's name and what it must be."""
    import re
    import subprocess

    from kpfusion_ros.ros.harness import rig_node

    ok = rig_node(ros_domain, "max_range:=1", "min_hand_score:=0")
    try:
        assert ok.wait_log(r"subscribed to /cam/color", timeout=60), ok.log()[-3000:]
        assert ok.proc.poll() is None
    finally:
        log = ok.stop()
    assert "Traceback" not in log and "InvalidParameterTypeException" not in log, log[-3000:]

    bad = rig_node(ros_domain, "max_hands:=two", "max_range:=far")
    try:
        rc = bad.proc.wait(timeout=90)
    finally:
        log = bad.stop()
    assert rc not in (0, None), log[-3000:]
    assert "Traceback" not in log, log[-3000:]
    assert re.search(r"invalid parameters: .*max_hands must be an integer, not 'two'", log), log[-3000:]
    assert "max_range must be a number, not 'far'" in log

