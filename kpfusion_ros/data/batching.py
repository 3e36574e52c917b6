"""A list of :class:`~kpfusion_ros.data.synthetic.HandFrame` (from any reader) → one ``FrameBatch``.

Lets the training/evaluation code, written against batches of synthetic frames, run on the real-dataset
readers (:mod:`kpfusion_ros.data.dexycb`, :mod:`kpfusion_ros.data.ho3d`). Frames of one batch must share
the image size; hands are padded to two per frame as in the synthetic batches.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from kpfusion_ros.data.synthetic.generator import FrameBatch, HandFrame

MAX_HANDS = 2


def frames_to_batch(frames: Sequence[HandFrame], device="cpu") -> FrameBatch:
    if not frames:
        raise ValueError("frames_to_batch: no frames")
    shapes = {f.color.shape for f in frames}
    if len(shapes) != 1:
        raise ValueError(f"frames_to_batch: frames of different sizes {sorted(shapes)} cannot share a batch")
    B = len(frames)
    H, W = frames[0].color.shape[:2]
    joints = np.zeros((B, MAX_HANDS, 21, 3), np.float32)
    valid = np.zeros((B, MAX_HANDS), bool)
    right = np.zeros((B, MAX_HANDS), bool)
    visible = np.zeros((B, MAX_HANDS, 21), bool)
    radius = np.zeros((B, MAX_HANDS, 21), np.float32)
    for b, f in enumerate(frames):
        n = min(f.num_hands, MAX_HANDS)
        ok = np.all(np.isfinite(f.joints_mm[:n]), axis=(1, 2))
        joints[b, :n] = np.nan_to_num(f.joints_mm[:n])
        valid[b, :n] = ok
        right[b, :n] = f.is_right[:n]
        visible[b, :n] = f.visible[:n]
        radius[b, :n] = f.joint_radius_mm[:n]
    t = lambda a, dt=None: torch.as_tensor(np.ascontiguousarray(a), device=device, dtype=dt)  # noqa: E731
    return FrameBatch(
        color=t(np.stack([f.color for f in frames])),
        depth=t(np.stack([f.depth.astype(np.int32) for f in frames])),
        cam=t(np.stack([np.asarray(f.cam, np.float32) for f in frames])),
        joints_mm=t(joints), hand_valid=t(valid), is_right=t(right), visible=t(visible),
        instance=t(np.stack([f.instance for f in frames])), joint_radius_mm=t(radius),
        seeds=[int(f.seed) for f in frames], indices=[int(f.index) for f in frames],
        stamps=[float(f.stamp) for f in frames])
