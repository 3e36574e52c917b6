"""A HandFrame (a rendered or dataset sample) as the ROS messages a camera driver publishes, and its labels.

:func:`frame_messages` gives the node's three inputs as realsense-ros publishes them: color
(rgb8, or bgr8), depth registered to color (16UC1 mm, or 32FC1 m with NaN where there is no
depth, REP 118) and the color camera's plumb_bob CameraInfo, all with one header.
:func:`ground_truth_msg` gives the frame's true joints as a HandPoseArray. The demo recording,
the soak and benchmarks, and the tests over DDS all build their inputs here.
"""

from __future__ import annotations

import numpy as np

from kpfusion_ros.ros.bagio import OPTICAL_FRAME, time_msg


def header_msg(stamp_ns: int, frame_id: str = OPTICAL_FRAME):
    from std_msgs.msg import Header

    return Header(stamp=time_msg(stamp_ns), frame_id=frame_id)


def camera_info_msg(header, width: int, height: int, cam):
    """CameraInfo of a pinhole camera ``cam`` = (fx, fy, cx, cy), no distortion (plumb_bob, zeros)."""
    from sensor_msgs.msg import CameraInfo

    fx, fy, cx, cy = (float(v) for v in cam)
    info = CameraInfo(header=header, height=height, width=width, distortion_model="plumb_bob")
    info.d = [0.0] * 5
    info.k = [fx, 0.0, cx, 0.0, fy, cy, 0.0, 0.0, 1.0]
    info.r = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    info.p = [fx, 0.0, cx, 0.0, 0.0, fy, cy, 0.0, 0.0, 0.0, 1.0, 0.0]
    return info


def frame_messages(frame, stamp_ns: int, frame_id: str = OPTICAL_FRAME, depth_encoding: str = "16UC1",
                   color_encoding: str = "rgb8"):
    """(color Image, depth Image, CameraInfo) of ``frame`` stamped ``stamp_ns``, little-endian, unpadded rows."""
    from sensor_msgs.msg import Image

    header = header_msg(stamp_ns, frame_id)
    h, w = frame.color.shape[:2]
    if color_encoding == "rgb8":
        rgb = np.ascontiguousarray(frame.color, dtype=np.uint8)
    elif color_encoding == "bgr8":
        rgb = np.ascontiguousarray(np.asarray(frame.color, dtype=np.uint8)[..., ::-1])
    else:
        raise ValueError(f"color_encoding must be rgb8 or bgr8, not {color_encoding!r}")
    color = Image(header=header, height=h, width=w, encoding=color_encoding, is_bigendian=0, step=w * 3)
    color.data = rgb.tobytes()
    if depth_encoding == "16UC1":  # millimetres, 0 = no depth
        d = np.ascontiguousarray(frame.depth, dtype="<u2")
    elif depth_encoding == "32FC1":  # metres, NaN = no depth
        d = np.asarray(frame.depth, dtype=np.float32) / 1000.0
        d[np.asarray(frame.depth) == 0] = np.nan
        d = np.ascontiguousarray(d, dtype="<f4")
    else:
        raise ValueError(f"depth_encoding must be 16UC1 or 32FC1, not {depth_encoding!r}")
    depth = Image(header=header, height=h, width=w, encoding=depth_encoding, is_bigendian=0,
                  step=w * d.dtype.itemsize)
    depth.data = d.tobytes()
    return color, depth, camera_info_msg(header, w, h, frame.cam)


def ground_truth_msg(frame, header, min_visible: int = 0):
    """HandPoseArray of the frame's true joints (metres), their projected pixels and visibility.

    joint_confidence is 1 for a visible joint, 0 for an occluded one or one outside the image;
    id is the hand's index in the frame; hands with fewer than ``min_visible`` visible joints are
    left out. The frame's joints (network order) are published in the message's (public) order, as
    the node publishes its estimates.
    """
    from geometry_msgs.msg import Point
    from sensor_msgs.msg import RegionOfInterest

    from kpfusion_ros.joints import reorder
    from kpfusion_ros.msg import HandPose, HandPoseArray

    h, w = frame.color.shape[:2]
    fx, fy, cx, cy = (float(v) for v in frame.cam)
    arr = HandPoseArray(header=header)
    for k in range(len(frame.joints_mm)):
        j = reorder(np.asarray(frame.joints_mm[k], dtype=np.float64) / 1000.0, "network", "public")
        vis = reorder(np.asarray(frame.visible[k], dtype=bool), "network", "public", axis=-1)
        if vis.sum() < min_visible:
            continue
        hp = HandPose()
        hp.id = k
        side = frame.handedness[k] if k < len(frame.handedness) else ""
        hp.handedness = {"left": HandPose.HANDEDNESS_LEFT, "right": HandPose.HANDEDNESS_RIGHT}.get(
            side, HandPose.HANDEDNESS_UNKNOWN)
        hp.confidence = 1.0
        hp.joints = [Point(x=float(p[0]), y=float(p[1]), z=float(p[2])) for p in j]
        z = np.where(j[:, 2] > 1e-6, j[:, 2], np.nan)
        u = j[:, 0] * fx / z + cx
        v = j[:, 1] * fy / z + cy
        hp.pixel_u = u.astype(np.float32)
        hp.pixel_v = v.astype(np.float32)
        hp.joint_confidence = vis.astype(np.float32)
        c = j.mean(axis=0)
        hp.crop_center = Point(x=float(c[0]), y=float(c[1]), z=float(c[2]))
        ok = np.isfinite(u) & np.isfinite(v)
        if ok.any():
            x0 = int(np.clip(np.floor(u[ok].min()), 0, w))
            x1 = int(np.clip(np.ceil(u[ok].max()), 0, w))
            y0 = int(np.clip(np.floor(v[ok].min()), 0, h))
            y1 = int(np.clip(np.ceil(v[ok].max()), 0, h))
            hp.roi = RegionOfInterest(x_offset=x0, y_offset=y0, width=x1 - x0, height=y1 - y0, do_rectify=False)
        arr.hands.append(hp)
    return arr
