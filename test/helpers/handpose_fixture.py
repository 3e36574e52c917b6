"""A deterministic HandPoseArray, shared by the DDS round-trip test and its publisher process."""

from __future__ import annotations

import math


def make_hand_pose_array():
    from builtin_interfaces.msg import Time
    from geometry_msgs.msg import Point
    from kpfusion_ros.msg import HandPose, HandPoseArray
    from sensor_msgs.msg import RegionOfInterest

    arr = HandPoseArray()
    arr.header.stamp = Time(sec=1_700_000_123, nanosec=456_789_000)
    arr.header.frame_id = "camera_color_optical_frame"
    for h in range(2):
        hp = HandPose()
        hp.id = 7 + h
        hp.handedness = HandPose.HANDEDNESS_RIGHT if h == 0 else HandPose.HANDEDNESS_UNKNOWN
        hp.confidence = 0.75 + 0.1 * h
        hp.joints = [Point(x=0.01 * j + h, y=-0.02 * j, z=0.5 + 0.001 * j) for j in range(21)]
        hp.pixel_u = [100.5 + j for j in range(21)]
        hp.pixel_v = [200.25 - j for j in range(21)]
        hp.joint_confidence = [j / 20.0 for j in range(21)]
        if h == 1:
            hp.joints[5] = Point(x=math.nan, y=math.nan, z=math.nan)
            hp.pixel_u[5] = math.nan
        hp.crop_center = Point(x=0.1, y=0.2, z=0.55)
        hp.roi = RegionOfInterest(x_offset=10 + h, y_offset=20, width=128, height=96, do_rectify=False)
        arr.hands.append(hp)
    return arr
