# Stand-in for ROS 2 tf2_ros.static_transform_broadcaster, used only where the real package is missing; see stand_ins/README.md
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile
from tf2_msgs.msg import TFMessage
from tf2_ros.transform_broadcaster import _as_list


class StaticTransformBroadcaster:
    """Latched publisher on /tf_static (default QoS: depth 1, TRANSIENT_LOCAL, KEEP_LAST).

    Jazzy/Kilted semantics: the broadcaster keeps one net TFMessage; each call appends only transforms
    whose child_frame_id was not sent before (a repeated child frame is ignored) and republishes the whole
    set, so a late TRANSIENT_LOCAL subscriber gets every static frame sent so far.
    """

    def __init__(self, node, qos=None):
        if qos is None:
            qos = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL,
                             history=HistoryPolicy.KEEP_LAST)
        self.pub_tf = node.create_publisher(TFMessage, '/tf_static', qos)
        self.net_message = TFMessage()
        self._child_frame_ids = set()

    def sendTransform(self, transform):
        for t in _as_list(transform):
            if t.child_frame_id not in self._child_frame_ids:
                self._child_frame_ids.add(t.child_frame_id)
                self.net_message.transforms.append(t)
        self.pub_tf.publish(self.net_message)
