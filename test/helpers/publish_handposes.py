"""Publisher process for test_dds_roundtrip: publishes the fixture until told to stop."""

import sys
import time

import rclpy
from rclpy.qos import QoSProfile, ReliabilityPolicy

sys.path.insert(0, __import__("os").path.dirname(__file__))
from handpose_fixture import make_hand_pose_array  # noqa: E402

from kpfusion_ros.msg import HandPoseArray  # noqa: E402


def main():
    rclpy.init()
    node = rclpy.create_node("handpose_test_publisher")
    pub = node.create_publisher(HandPoseArray, "hand_poses", QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE))
    msg = make_hand_pose_array()
    deadline = time.monotonic() + float(sys.argv[1] if len(sys.argv) > 1 else 20)
    while time.monotonic() < deadline:
        pub.publish(msg)
        time.sleep(0.05)
    node.destroy_node()
    rclpy.shutdown()


if __name__ == "__main__":
    main()
