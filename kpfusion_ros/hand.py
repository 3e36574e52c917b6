"""The result for one hand in one frame, as the ROS-free pipeline returns it."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: Values of :attr:`HandEstimate.handedness` (the subject's own side, as HandPose.msg's constants).
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
    #: HANDEDNESS_LEFT / RIGHT, or UNKNOWN when ``handedness_confidence`` is below the tracker's
    #: ``min_handedness_confidence`` (or there is no side estimate at all).
    handedness: int = HANDEDNESS_UNKNOWN
    #: max(p(right), p(left)) of the track's smoothed side estimate, in [0.5, 1]; 0.5 = no information.
    handedness_confidence: float = 0.5
    #: The localiser's p(hand), averaged over the track's detections (None without one).
    hand_score: float | None = None
    #: Whether the crop was mirrored before the network (a left hand; the joints are mirrored back).
    mirrored: bool = False
    extras: dict = field(default_factory=dict)

    def valid_mask(self) -> np.ndarray:
        return np.all(np.isfinite(self.joints_m), axis=1)
