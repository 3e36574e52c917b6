"""HandEstimate (core) → kpfusion_ros/HandPoseArray (ROS)."""

from __future__ import annotations

from typing import Sequence

import numpy as np
from geometry_msgs.msg import Point
from sensor_msgs.msg import RegionOfInterest

from kpfusion_ros.hand import HandEstimate
from kpfusion_ros.msg import HandPose, HandPoseArray


def _point(p) -> Point:
    return Point(x=float(p[0]), y=float(p[1]), z=float(p[2]))


def hand_pose_msg(h: HandEstimate) -> HandPose:
    msg = HandPose()
    msg.id = int(h.track_id)
    msg.handedness = int(h.handedness)
    msg.handedness_confidence = float(np.clip(h.handedness_confidence, 0.0, 1.0))
    msg.confidence = float(np.clip(h.confidence, 0.0, 1.0))
    msg.joints = [_point(p) for p in h.joints_m]
    msg.pixel_u = h.pixels[:, 0].astype(np.float32)
    msg.pixel_v = h.pixels[:, 1].astype(np.float32)
    msg.joint_confidence = np.clip(h.joint_confidence, 0.0, 1.0).astype(np.float32)
    msg.crop_center = _point(h.center_m)
    x, y, w, hh = (int(v) for v in h.roi)
    msg.roi = RegionOfInterest(x_offset=max(x, 0), y_offset=max(y, 0), width=max(w, 0), height=max(hh, 0),
                               do_rectify=False)
    return msg


def hand_pose_array_msg(header, hands: Sequence[HandEstimate]) -> HandPoseArray:
    """One message for the frame: header copied from the color image, all hands (possibly none)."""
    arr = HandPoseArray()
    arr.header = header
    arr.hands = [hand_pose_msg(h) for h in hands]
    return arr
