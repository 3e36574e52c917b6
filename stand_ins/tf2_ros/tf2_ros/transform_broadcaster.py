# Stand-in for ROS 2 tf2_ros.transform_broadcaster, used only where the real package is missing; see stand_ins/README.md
from rclpy.qos import QoSProfile
from tf2_msgs.msg import TFMessage


def _as_list(transform):
    if isinstance(transform, list):
        return transform
    if hasattr(transform, '__iter__'):
        return list(transform)
    return [transform]


class TransformBroadcaster:
    """Publishes geometry_msgs/TransformStamped on /tf (default QoS: depth 100, RELIABLE, VOLATILE)."""

    def __init__(self, node, qos=None):
        if qos is None:
            qos = QoSProfile(depth=100)
        self.pub_tf = node.create_publisher(TFMessage, '/tf', qos)

    def sendTransform(self, transform):
        """Publish one TFMessage holding ``transform`` (a TransformStamped, a list or any iterable of them)."""
        self.pub_tf.publish(TFMessage(transforms=_as_list(transform)))
