"""One TF frame per joint per hand: ``<tf_prefix>hand_<id>/<joint_name>`` under the optical frame.

The frame's origin is the joint; its x axis points along the bone that ends at the
joint (from the parent joint), with the shortest-arc rotation from x — so y/z are
only defined up to the roll about the bone. The wrist, and any joint whose bone
is degenerate or has an invalid parent, get the identity orientation. Joints
with non-finite coordinates are skipped: tf2 rejects NaN transforms (TF_NAN_INPUT).
Frame ids never start with '/' (tf2 forbids it).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from geometry_msgs.msg import TransformStamped

from kpfusion_ros.hand import HandEstimate
from kpfusion_ros.joints import JOINT_NAMES, PARENTS


def joint_frame_id(tf_prefix: str, track_id: int, joint: int) -> str:
    prefix = tf_prefix.lstrip("/")
    return f"{prefix}hand_{int(track_id)}/{JOINT_NAMES[joint]}"


def bone_quaternions(joints: np.ndarray) -> np.ndarray:
    """(21, 4) unit quaternions (x, y, z, w) rotating +x onto each parent→joint direction (vectorized)."""
    joints = np.asarray(joints, dtype=np.float64)
    parents = np.asarray(PARENTS)
    q = np.zeros((len(joints), 4))
    q[:, 3] = 1.0
    has_parent = parents >= 0
    d = np.zeros_like(joints)
    d[has_parent] = joints[has_parent] - joints[parents[has_parent]]
    norm = np.linalg.norm(d, axis=1)
    ok = has_parent & np.isfinite(norm) & (norm > 1e-9)
    u = np.zeros_like(d)
    u[ok] = d[ok] / norm[ok, None]
    # shortest arc from e_x to u: q = normalize([e_x × u, 1 + e_x·u])
    w = 1.0 + u[:, 0]
    axis = np.stack([np.zeros(len(u)), -u[:, 2], u[:, 1]], axis=1)
    anti = ok & (w < 1e-9)  # u == -x: rotate 180° about z
    qq = np.concatenate([axis, w[:, None]], axis=1)
    qq[anti] = np.array([0.0, 0.0, 1.0, 0.0])
    n = np.linalg.norm(qq, axis=1, keepdims=True)
    q[ok] = qq[ok] / n[ok]
    return q


def hand_transforms(header, hands: Sequence[HandEstimate], tf_prefix: str = "") -> list[TransformStamped]:
    out: list[TransformStamped] = []
    for h in hands:
        joints = np.asarray(h.joints_m, dtype=np.float64)
        quats = bone_quaternions(joints)
        for j in np.flatnonzero(np.all(np.isfinite(joints), axis=1)):
            t = TransformStamped()
            t.header = header
            t.child_frame_id = joint_frame_id(tf_prefix, h.track_id, j)
            t.transform.translation.x, t.transform.translation.y, t.transform.translation.z = map(float, joints[j])
            qx, qy, qz, qw = map(float, quats[j])
            t.transform.rotation.x, t.transform.rotation.y, t.transform.rotation.z, t.transform.rotation.w = qx, qy, qz, qw
            out.append(t)
    return out
