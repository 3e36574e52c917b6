"""tf2_ros broadcasters (stand-in under stand_ins/, or the real package where installed) over DDS."""

import time

import pytest

tf2_ros = pytest.importorskip("tf2_ros")
from geometry_msgs.msg import TransformStamped  # noqa: E402
from tf2_msgs.msg import TFMessage  # noqa: E402


def tf(parent, child, x=0.0):
    t = TransformStamped()
    t.header.frame_id = parent
    t.child_frame_id = child
    t.transform.translation.x = x
    t.transform.rotation.w = 1.0
    return t


def spin_until(ex, cond, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end and not cond():
        ex.spin_once(timeout_sec=0.05)
    return cond()


@pytest.fixture
def node_ex(rclpy_context):
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    node = rclpy.create_node("tf_standin_test", context=rclpy_context)
    ex = SingleThreadedExecutor(context=rclpy_context)
    ex.add_node(node)
    yield node, ex
    ex.shutdown()
    node.destroy_node()


def test_transform_broadcaster_one_message_per_call(node_ex):
    from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
    node, ex = node_ex
    br = tf2_ros.TransformBroadcaster(node)
    assert br.pub_tf.topic_name == "/tf"
    assert br.pub_tf.qos_profile.depth == 100
    assert br.pub_tf.qos_profile.reliability == ReliabilityPolicy.RELIABLE
    assert br.pub_tf.qos_profile.durability == DurabilityPolicy.VOLATILE
    assert tf2_ros.TransformBroadcaster(node, qos=7).pub_tf.qos_profile.depth == 7
    got = []
    node.create_subscription(TFMessage, "/tf", got.append, QoSProfile(depth=100))
    assert spin_until(ex, lambda: br.pub_tf.get_subscription_count() >= 1)
    br.sendTransform([tf("cam", "j0", 1.0), tf("cam", "j1", 2.0)])
    br.sendTransform(tf("cam", "j2", 3.0))
    br.sendTransform(t for t in (tf("cam", "j3"),))        # any iterable
    assert spin_until(ex, lambda: len(got) >= 3)
    spin_until(ex, lambda: False, timeout=0.2)
    assert len(got) == 3
    assert [[t.child_frame_id for t in m.transforms] for m in got] == [["j0", "j1"], ["j2"], ["j3"]]
    assert got[0].transforms[1].transform.translation.x == 2.0
    assert got[0].transforms[0].header.frame_id == "cam"


def test_static_broadcaster_latched_net_message(node_ex):
    from rclpy.qos import DurabilityPolicy, QoSProfile
    node, ex = node_ex
    br = tf2_ros.StaticTransformBroadcaster(node)
    assert br.pub_tf.topic_name == "/tf_static"
    assert br.pub_tf.qos_profile.depth == 1
    assert br.pub_tf.qos_profile.durability == DurabilityPolicy.TRANSIENT_LOCAL
    br.sendTransform(tf("base_link", "camera_link", 1.0))
    br.sendTransform([tf("camera_link", "camera_optical"), tf("base_link", "camera_link", 9.0)])  # repeat ignored
    # late joiner
    got = []
    node.create_subscription(TFMessage, "/tf_static", got.append,
                             QoSProfile(depth=100, durability=DurabilityPolicy.TRANSIENT_LOCAL))
    assert spin_until(ex, lambda: len(got) >= 1)
    spin_until(ex, lambda: False, timeout=0.2)
    assert len(got) == 1                      # depth 1: only the last (net) message is latched
    frames = {t.child_frame_id: t for t in got[0].transforms}
    assert sorted(frames) == ["camera_link", "camera_optical"]
    assert frames["camera_link"].transform.translation.x == 1.0
