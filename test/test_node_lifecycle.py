"""The node in this process over real DDS: lifecycle publishers, input remapping and QoS overrides.

One KPFusionNode (random:lite weights) and a test node share an rclpy context on the test's own
domain, in the private network namespace; the node is driven through its lifecycle transitions.
"""

from __future__ import annotations

import gc
import sys
import time
from pathlib import Path

import pytest

from conftest import ros_available

sys.path.insert(0, str(Path(__file__).parent / "helpers"))

pytestmark = pytest.mark.skipif(not ros_available(), reason="needs the colcon install: run `make test`")

REMAPS = ["-r", "color/image_raw:=/cam2/color", "-r", "depth/image_raw:=/cam2/depth",
          "-r", "color/camera_info:=/cam2/info"]


class World:
    """The node under test, a test node with publishers/subscribers, and one executor for both."""

    def __init__(self, ctx, *ros_args: str):
        import rclpy
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.qos import QoSProfile, ReliabilityPolicy
        from visualization_msgs.msg import MarkerArray

        from kpfusion_ros.msg import HandPoseArray
        from kpfusion_ros.ros.node import KPFusionNode

        self.node = KPFusionNode(context=ctx, cli_args=["--ros-args", *REMAPS, "-p", "model_path:=random:lite",
                                                        "-p", "device:=cpu", "-p", "diagnostics_period:=0.2",
                                                        *ros_args])
        self.test = rclpy.create_node("lifecycle_test", context=ctx)
        rel = QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE)
        self.poses, self.markers = {}, []
        self.test.create_subscription(HandPoseArray, "/kpfusion/hand_poses", self._on_pose, rel)
        self.test.create_subscription(MarkerArray, "/kpfusion/markers", self.markers.append, rel)
        self.ex = SingleThreadedExecutor(context=ctx)
        self.ex.add_node(self.node)
        self.ex.add_node(self.test)
        self._pubs = {}

    def _on_pose(self, msg):
        self.poses[msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec] = msg

    def publishers(self, reliability: str):
        from rclpy.qos import QoSProfile, ReliabilityPolicy
        from sensor_msgs.msg import CameraInfo, Image

        if reliability not in self._pubs:
            q = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE if reliability == "reliable"
                           else ReliabilityPolicy.BEST_EFFORT)
            self._pubs[reliability] = (self.test.create_publisher(Image, "/cam2/color", q),
                                       self.test.create_publisher(Image, "/cam2/depth", q),
                                       self.test.create_publisher(CameraInfo, "/cam2/info", q))
        return self._pubs[reliability]

    def spin(self, seconds: float, until=None) -> bool:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.ex.spin_once(timeout_sec=0.01)
            if until is not None and until():
                return True
        return until() if until is not None else True

    def send(self, frame, stamp_ns: int, reliability: str) -> None:
        from kpfusion_ros.ros.hand_frames import frame_messages

        for pub, msg in zip(self.publishers(reliability), frame_messages(frame, stamp_ns)):
            pub.publish(msg)

    def close(self):
        self.ex.shutdown()
        self.node._stop_inputs()
        self.node.destroy_node()
        self.test.destroy_node()
        gc.unfreeze()  # configure froze the objects of this test process


@pytest.fixture
def world_factory(rclpy_context):
    made = []

    def make(*ros_args):
        made.append(World(rclpy_context, *ros_args))
        return made[-1]

    yield make
    for w in made:
        w.close()


def _frame():
    from kpfusion_ros.data.synthetic import SceneConfig, SyntheticConfig, render_frame

    scene = SceneConfig(num_hands=1, clutter=(0, 0), p_occluder=0.0, p_near_object=0.0, p_grasp=0.0, p_edge=0.0,
                        p_table=0.0)
    return render_frame(11, 0, SyntheticConfig(width=160, height=120, clean=True, scene=scene))


def test_publishers_send_nothing_while_the_node_is_inactive(world_factory):
    from rclpy.lifecycle import LifecyclePublisher, TransitionCallbackReturn
    from visualization_msgs.msg import Marker, MarkerArray

    w = world_factory()
    assert w.node.trigger_configure() == TransitionCallbackReturn.SUCCESS
    pubs = (w.node.pub_poses, w.node.pub_markers, w.node.pub_debug, w.node.pub_diag)
    assert all(isinstance(p, LifecyclePublisher) and not p.is_activated for p in pubs)
    assert w.spin(20.0, lambda: w.node.pub_markers.get_subscription_count() > 0)

    def probe(k):
        w.node.pub_markers.publish(MarkerArray(markers=[Marker(ns="probe", id=k)]))
        return lambda: any(m.ns == "probe" and m.id == k for a in w.markers for m in a.markers)

    assert not w.spin(1.0, probe(1)), "an inactive (configured) node published"
    assert w.node.trigger_activate() == TransitionCallbackReturn.SUCCESS
    assert all(p.is_activated for p in pubs)
    assert w.spin(10.0, probe(2))
    # deactivating clears the markers (DELETEALL, sent while still active), then nothing goes out
    n = len(w.markers)
    assert w.node.trigger_deactivate() == TransitionCallbackReturn.SUCCESS
    assert w.spin(10.0, lambda: any(m.action == Marker.DELETEALL for a in w.markers[n:] for m in a.markers))
    assert not any(p.is_activated for p in pubs)
    assert not w.spin(1.0, probe(3)), "a deactivated node published"
    # and it comes back: activate again (the QoS override parameters exist already), then clean up
    assert w.node.trigger_activate() == TransitionCallbackReturn.SUCCESS
    assert w.spin(10.0, probe(4))
    assert w.node.trigger_deactivate() == TransitionCallbackReturn.SUCCESS
    assert w.node.trigger_cleanup() == TransitionCallbackReturn.SUCCESS
    assert w.node.pub_markers is None


def test_inputs_are_remapped_relative_topics_with_best_effort_default(world_factory):
    from rclpy.qos import HistoryPolicy, ReliabilityPolicy
    from rclpy.lifecycle import TransitionCallbackReturn

    w = world_factory()
    assert w.node.trigger_configure() == TransitionCallbackReturn.SUCCESS
    assert w.node.trigger_activate() == TransitionCallbackReturn.SUCCESS
    assert [s.getTopic() for s in w.node._subs] == ["color/image_raw", "depth/image_raw", "color/camera_info"]
    assert [s.sub.topic_name for s in w.node._subs] == ["/cam2/color", "/cam2/depth", "/cam2/info"]
    for s in w.node._subs:
        q = s.sub.qos_profile
        assert (q.reliability, q.history, q.depth) == (ReliabilityPolicy.BEST_EFFORT, HistoryPolicy.KEEP_LAST, 5)
        # the standard override parameters exist, named after the remapped topic, with the defaults
        p = f"qos_overrides.{s.sub.topic_name}.subscription."
        assert w.node.get_parameter(p + "reliability").value == "best_effort"
        assert w.node.get_parameter(p + "depth").value == 5
    # the graph: the node subscribes to the remapped names, not to the relative ones
    assert w.spin(10.0, lambda: len(w.test.get_subscriptions_info_by_topic("/cam2/color")) == 1)
    (info,) = w.test.get_subscriptions_info_by_topic("/cam2/color")
    assert info.node_name == "kpfusion" and info.qos_profile.reliability == ReliabilityPolicy.BEST_EFFORT
    assert w.test.get_subscriptions_info_by_topic("/color/image_raw") == []
    # best effort receives from both kinds of publisher
    frame = _frame()
    for rel in ("best_effort", "reliable"):
        assert w.spin(10.0, lambda: all(p.get_subscription_count() == 1 for p in w.publishers(rel)))
    stamps = []
    for k in range(8):
        s = 1_700_000_000_000_000_000 + k * 50_000_000
        stamps.append(s)
        w.send(frame, s, "best_effort" if k % 2 else "reliable")
        assert w.spin(30.0, lambda: s in w.poses), f"no HandPoseArray for stamp {s}"
    assert len(w.poses) == len(stamps)


def test_a_reliable_qos_override_takes_effect(world_factory):
    from rclpy.qos import ReliabilityPolicy
    from rclpy.lifecycle import TransitionCallbackReturn

    overrides = []
    for t in ("/cam2/color", "/cam2/depth", "/cam2/info"):
        overrides += ["-p", f"qos_overrides.{t}.subscription.reliability:=reliable"]
    overrides += ["-p", "qos_overrides./cam2/color.subscription.depth:=3"]
    w = world_factory(*overrides)
    assert w.node.trigger_configure() == TransitionCallbackReturn.SUCCESS
    assert w.node.trigger_activate() == TransitionCallbackReturn.SUCCESS
    qos = [s.sub.qos_profile for s in w.node._subs]
    assert [q.reliability for q in qos] == [ReliabilityPolicy.RELIABLE] * 3
    assert [q.depth for q in qos] == [3, 5, 5]
    assert w.spin(10.0, lambda: len(w.test.get_subscriptions_info_by_topic("/cam2/depth")) == 1)
    assert w.test.get_subscriptions_info_by_topic("/cam2/depth")[0].qos_profile.reliability == \
        ReliabilityPolicy.RELIABLE
    # a reliable subscription does not match best-effort publishers: nothing arrives from them ...
    frame = _frame()
    best_effort = w.publishers("best_effort")
    w.spin(2.0)
    assert all(p.get_subscription_count() == 0 for p in best_effort)
    for k in range(4):
        w.send(frame, 1_700_000_000_000_000_000 + k * 50_000_000, "best_effort")
        w.spin(0.5)
    w.spin(2.0)
    assert w.poses == {} and w.node.diagnostics.counts["sets_received"] == 0
    # ... and everything from reliable ones
    assert w.spin(10.0, lambda: all(p.get_subscription_count() == 1 for p in w.publishers("reliable")))
    for k in range(4, 8):
        s = 1_700_000_000_000_000_000 + k * 50_000_000
        w.send(frame, s, "reliable")
        assert w.spin(30.0, lambda: s in w.poses), f"no HandPoseArray for stamp {s}"
    assert w.node.diagnostics.counts["sets_received"] == 4 and len(w.poses) == 4
