"""Build sensor_msgs for a synthetic HandFrame (color rgb8, depth 16UC1 or 32FC1, camera_info)."""

from __future__ import annotations

import numpy as np


def frame_messages(frame, stamp_ns: int, frame_id: str = "camera_color_optical_frame",
                   depth_encoding: str = "16UC1", color_encoding: str = "rgb8"):
    from builtin_interfaces.msg import Time
    from sensor_msgs.msg import CameraInfo, Image
    from std_msgs.msg import Header

    header = Header(stamp=Time(sec=stamp_ns // 1_000_000_000, nanosec=stamp_ns % 1_000_000_000), frame_id=frame_id)
    h, w = frame.color.shape[:2]
    color = Image(header=header, height=h, width=w, encoding=color_encoding, is_bigendian=0)
    if color_encoding == "rgb8":
        data = np.ascontiguousarray(frame.color)
    elif color_encoding == "bgr8":
        data = np.ascontiguousarray(frame.color[..., ::-1])
    else:
        raise ValueError(color_encoding)
    color.step = w * 3
    color.data = data.tobytes()
    depth = Image(header=header, height=h, width=w, encoding=depth_encoding, is_bigendian=0)
    if depth_encoding == "16UC1":
        d = np.ascontiguousarray(frame.depth.astype(np.uint16))
        depth.step = w * 2
    elif depth_encoding == "32FC1":
        d = frame.depth.astype(np.float32) / 1000.0
        d[frame.depth == 0] = np.nan
        d = np.ascontiguousarray(d)
        depth.step = w * 4
    else:
        raise ValueError(depth_encoding)
    depth.data = d.tobytes()
    fx, fy, cx, cy = (float(v) for v in frame.cam)
    info = CameraInfo(header=header, height=h, width=w, distortion_model="plumb_bob")
    info.d = [0.0] * 5
    info.k = [fx, 0.0, cx, 0.0, fy, cy, 0.0, 0.0, 1.0]
    info.r = [1.0, 0, 0, 0, 1.0, 0, 0, 0, 1.0]
    info.p = [fx, 0.0, cx, 0.0, 0.0, fy, cy, 0.0, 0.0, 0.0, 1.0, 0.0]
    return color, depth, info
