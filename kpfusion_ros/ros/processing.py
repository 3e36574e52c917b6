"""One synchronized (color, depth, camera_info) set → HandPoseArray, markers and TF.

Shared by the live node and the offline bag processor (``kpfusion-bag``) so that
both run the same code on the same frames: validation and conversion of the
messages (:mod:`kpfusion_ros.ros.conversions`), stamp checks, the ROS-free
:class:`~kpfusion_ros.pipeline.HandPosePipeline`, and the output messages.
Problems with a frame raise :class:`~kpfusion_ros.ros.conversions.FrameError` (a subclass per kind:
:class:`~kpfusion_ros.ros.conversions.StampError` for stamps);
conditions worth a warning that do not stop the frame go to ``warn(key, text)``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
import time
from typing import Callable, Optional

import numpy as np

from kpfusion_ros.node_config import NodeConfig
from kpfusion_ros.pipeline import FrameResult, HandPosePipeline
from kpfusion_ros.ros.bagio import stamp_ns
from kpfusion_ros.ros.conversions import (StampError, align_depth_to_color, color_to_rgb, depth_to_mm,
                                          intrinsics_from_info)
from kpfusion_ros.ros.markers import MarkerPublisherState
from kpfusion_ros.ros.messages import hand_pose_array_msg
from kpfusion_ros.ros.tf_frames import hand_transforms


@dataclass
class ProcessedFrame:
    poses: object  # kpfusion_ros/HandPoseArray
    markers: object  # visualization_msgs/MarkerArray
    transforms: list  # geometry_msgs/TransformStamped
    rgb: np.ndarray
    result: FrameResult
    issues: tuple = ()  # keys of the warning conditions this frame had (e.g. "no_depth")


_NODE = NodeConfig()  # the one source of the defaults below


@dataclass
class ProcessingOptions:
    """The node parameters that the per-frame work reads (same names and defaults as NodeConfig)."""

    use_rectified_intrinsics: bool = _NODE.use_rectified_intrinsics
    resolution_mismatch: str = _NODE.resolution_mismatch
    max_future_s: float = _NODE.max_future_s
    tf_prefix: str = _NODE.tf_prefix
    marker_lifetime: float = _NODE.marker_lifetime


def processing_options(cfg: NodeConfig) -> ProcessingOptions:
    """The node's (or ``kpfusion-bag``'s) parameters → the options of its FrameProcessor."""
    return ProcessingOptions(**{f.name: getattr(cfg, f.name) for f in fields(ProcessingOptions)})


class FrameProcessor:
    def __init__(self, pipeline: HandPosePipeline, bridge, options: ProcessingOptions = ProcessingOptions(),
                 warn: Optional[Callable[[str, str], None]] = None):
        self.pipeline = pipeline
        self.bridge = bridge
        self.options = options
        self.warn = warn or (lambda key, text: None)
        self.markers = MarkerPublisherState()
        self.last_stamp_ns: Optional[int] = None
        self.last_header = None

    def check_stamp(self, color, now_ns: Optional[int]) -> None:
        ns = stamp_ns(color.header.stamp)
        if now_ns is not None and ns - now_ns > self.options.max_future_s * 1e9:
            raise StampError(f"color stamp is {(ns - now_ns) / 1e9:.1f} s in the future of the node's clock "
                             "(clock not synchronized?)")
        if self.last_stamp_ns is not None and ns <= self.last_stamp_ns:
            kind = "duplicate stamp" if ns == self.last_stamp_ns else "stamp older than the previous frame"
            raise StampError(f"{kind} ({ns / 1e9:.3f} s): frame out of order")
        if now_ns is not None and now_ns - ns > 10e9:
            self.warn("old_stamps", f"frames are stamped {(now_ns - ns) / 1e9:.0f} s in the past of the node's "
                      "clock (clock not synchronized, or replay without use_sim_time?)")

    def clear_markers(self):
        """A MarkerArray that deletes every hand's markers (in the last frame's header), and forget them."""
        return self.markers.clear(self.last_header)

    def process(self, color, depth, info, now_ns: Optional[int] = None) -> ProcessedFrame:
        o = self.options
        issues = []
        t0 = time.perf_counter()
        self.check_stamp(color, now_ns)
        if color.header.frame_id != depth.header.frame_id:
            self.warn("frame_id", f"color frame '{color.header.frame_id}' and depth frame "
                      f"'{depth.header.frame_id}' differ: depth must be registered to color; "
                      "publishing in the color frame")
        rgb = color_to_rgb(color, self.bridge)
        depth_mm = depth_to_mm(depth, self.bridge)
        intr = intrinsics_from_info(info, use_rectified=o.use_rectified_intrinsics)
        h, w = rgb.shape[:2]
        if (intr.width, intr.height) != (w, h):
            self.warn("info_size", f"camera_info is {info.width}x{info.height} but color is {w}x{h}: "
                      "intrinsics scaled")
            intr = intr.scaled_to(w, h)
        if depth_mm.shape != (h, w):
            dh, dw = depth_mm.shape
            depth_mm = align_depth_to_color(depth_mm, (h, w), o.resolution_mismatch)  # raises under 'reject'
            issues.append("depth_size")
            self.warn("depth_size", f"depth is {dw}x{dh} but color is {w}x{h}: depth resized (nearest) to the "
                      "color size, assuming it is registered to the color camera "
                      "(resolution_mismatch:=reject to skip such frames)")
        if not np.any(depth_mm > 0):
            issues.append("no_depth")
            self.warn("no_depth", "depth has no valid pixel (all zero/NaN): publishing no hands")
        self.last_stamp_ns = stamp_ns(color.header.stamp)
        t1 = time.perf_counter()
        result = self.pipeline.process(rgb, depth_mm, intr.as_tuple(), self.last_stamp_ns / 1e9)
        t2 = time.perf_counter()
        header = color.header
        self.last_header = header
        poses = hand_pose_array_msg(header, result.hands)
        markers = self.markers.build(header, result.hands, lifetime=o.marker_lifetime)
        tfs = hand_transforms(header, result.hands, o.tf_prefix)
        result.timings_ms["conversion"] = (t1 - t0) * 1e3
        result.timings_ms["messages"] = (time.perf_counter() - t2) * 1e3
        return ProcessedFrame(poses, markers, tfs, rgb, result, tuple(issues))
