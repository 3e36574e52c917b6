"""Skeleton overlays on color images (debug image, demo frames, contact sheets). ROS-free."""

from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

from kpfusion_ros.joints import BONES, FINGER_COLORS, JOINT_FINGER


def _rgb255(finger: str) -> tuple[int, int, int]:
    return tuple(int(round(255 * c)) for c in FINGER_COLORS[finger])


def draw_skeleton(img_rgb: np.ndarray, pixels: np.ndarray, *, label: str | None = None,
                  roi: tuple[int, int, int, int] | None = None, thickness: int = 2) -> np.ndarray:
    """Draw one 21-joint skeleton (pixels (21, 2) in the public joint order of HandEstimate and HandPose,
    NaN = missing) on an RGB uint8 image, in place."""
    h, w = img_rgb.shape[:2]
    pts = np.asarray(pixels, dtype=np.float64)
    ok = np.all(np.isfinite(pts), axis=1) & (np.abs(pts) < 1e5).all(axis=1)
    ip = np.zeros((len(pts), 2), dtype=np.int64)
    ip[ok] = np.round(pts[ok]).astype(np.int64)
    for p, c in BONES:
        if ok[p] and ok[c]:
            cv2.line(img_rgb, tuple(map(int, ip[p])), tuple(map(int, ip[c])), _rgb255(JOINT_FINGER[c]), thickness,
                     cv2.LINE_AA)
    for j in np.flatnonzero(ok):
        cv2.circle(img_rgb, tuple(map(int, ip[j])), thickness + 1, _rgb255(JOINT_FINGER[j]), -1, cv2.LINE_AA)
    if roi is not None:
        x, y, rw, rh = (int(v) for v in roi)
        cv2.rectangle(img_rgb, (x, y), (x + rw, y + rh), (255, 255, 255), 1)
    if label:
        anchor = ip[0] if ok[0] else (np.array([roi[0], roi[1]]) if roi is not None else np.array([5, 15]))
        org = (int(np.clip(anchor[0], 0, w - 1)), int(np.clip(anchor[1] - 10, 12, h - 1)))
        cv2.putText(img_rgb, label, org, cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1, cv2.LINE_AA)
    return img_rgb


def draw_hands(rgb: np.ndarray, hands: Sequence) -> np.ndarray:
    """A copy of ``rgb`` with every HandEstimate's skeleton, crop box and id/confidence drawn."""
    out = np.ascontiguousarray(rgb, dtype=np.uint8).copy()
    for h in hands:
        draw_skeleton(out, h.pixels, label=f"{h.track_id}: {h.confidence:.2f}", roi=h.roi)
    return out
