"""The result for one hand in one frame, as the ROS-free pipeline returns it."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

HANDEDNESS_UNKNOWN, HANDEDNESS_LEFT, HANDEDNESS_RIGHT = 0, 1, 2


@dataclass
class HandEstimate:
    """One hand: joints in metres in the color optical frame.

    ``joints_m``, ``pixels`` and ``joint_confidence`` are in the **public** joint order
    (:data:`kpfusion_ros.joints.JOINT_NAMES`: wrist; thumb CMC, MCP, IP, tip; index … pinky, base to
    tip), the order of ``msg/HandPose.msg``; the pipeline converts from the network's order when it builds
    each HandEstimate.
    Invalid joints are NaN (REP 117) with ``joint_confidence`` 0.
    """

    track_id: int
    joints_m: np.ndarray  # (21, 3) float64, metres, camera optical frame
    pixels: np.ndarray  # (21, 2) float64, (u, v) full-image pixels
    joint_confidence: np.ndarray  # (21,) in [0, 1]
    confidence: float  # overall, in [0, 1]
    center_m: np.ndarray  # (3,) crop centre, metres
    roi: tuple[int, int, int, int]  # (x, y, width, height) pixels, clipped to the image
    handedness: int = HANDEDNESS_UNKNOWN
    extras: dict = field(default_factory=dict)

    def valid_mask(self) -> np.ndarray:
        return np.all(np.isfinite(self.joints_m), axis=1)
