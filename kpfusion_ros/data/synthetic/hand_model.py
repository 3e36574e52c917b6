"""Procedural articulated hand: skeleton, joint limits, pose sampling, capsule geometry.

No MANO files. The canonical hand is a *right* hand in its own frame (mm):

* x: radial (towards the thumb side), y: distal (wrist → middle finger),
  z: volar (the palm normal, the side the fingers flex towards);
* the wrist joint is the origin.

A left hand is the mirror image (x ↦ −x) of the right hand in this frame; the
rigid placement into the camera frame is then a proper rotation, so for a right
hand ``thumb side = finger direction × palm normal`` and for a left hand the
opposite (test/test_synthetic.py checks it).

Geometry is a set of capsules (one per bone, radii tapering towards the tips,
metacarpal capsules, a knuckle bar, a wrist bar, a thenar capsule, a forearm made
of two capsules) plus one flattened ellipsoid filling the palm. Every joint lies
inside the geometry (on a capsule axis; the finger tips 0.45 r behind the end of
the distal capsule), so the visible surface is a few millimetres in front of the
joint, whose centre is the label.

Everything here is small per-hand numpy (float64); randomness is drawn from a
``torch.Generator`` passed in (no global RNG).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from ...joints import NETWORK_FINGER_CHAINS, NUM_JOINTS

LONG_FINGERS: tuple[str, ...] = ("index", "middle", "ring", "pinky")

#: Pose vector layout: 4 per long finger (mcp_flex, mcp_abd, pip_flex, dip_flex) in
#: LONG_FINGERS order, then thumb (cmc_flex, cmc_abd, mcp_flex, ip_flex), then palm cup.
POSE_DIM = 21
POSE_NAMES: tuple[str, ...] = tuple(
    f"{f}_{d}" for f in LONG_FINGERS for d in ("mcp_flex", "mcp_abd", "pip_flex", "dip_flex")
) + ("thumb_cmc_flex", "thumb_cmc_abd", "thumb_mcp_flex", "thumb_ip_flex", "palm_cup")

# Joint-angle limits (radians; cup in [0, 1]).
_LO_F = (-0.35, -0.30, 0.0, -0.10)
_HI_F = (1.60, 0.30, 1.90, 1.40)
POSE_LO = np.array(_LO_F * 4 + (-0.40, -0.50, -0.20, -0.30, 0.0))
POSE_HI = np.array(_HI_F * 4 + (0.95, 0.60, 1.00, 1.30, 1.0))

# Canonical adult right hand (mm).
_MCP = {"index": (24.0, 86.0, 0.0), "middle": (3.0, 90.0, 0.0), "ring": (-15.0, 84.0, 0.0), "pinky": (-31.0, 74.0, 0.0)}
_SPLAY = {"index": 0.10, "middle": 0.0, "ring": -0.09, "pinky": -0.20}  # + towards the thumb
_LEN = {
    "index": (39.0, 23.0, 21.0),
    "middle": (43.0, 27.0, 22.0),
    "ring": (40.0, 26.0, 22.0),
    "pinky": (31.0, 19.0, 19.0),
    "thumb": (38.0, 32.0, 27.0),
}
_RAD = {
    "index": (9.0, 8.2, 7.4),
    "middle": (9.3, 8.5, 7.6),
    "ring": (8.8, 8.0, 7.2),
    "pinky": (7.8, 7.0, 6.4),
    "thumb": (11.0, 9.6, 8.4),
}
_THUMB_CMC = (19.0, 22.0, 9.0)
_THUMB_DIR = (0.58, 0.72, 0.38)
_THUMB_FLEX = (-0.55, 0.0, 0.83)
_CUP_Z = {"index": 2.0, "middle": 0.0, "ring": 4.0, "pinky": 9.0}
TIP_INSET = 0.45  # tip joint sits this many radii behind the end of the distal capsule

PART_SKIN, PART_SLEEVE = 0, 1

# Light → dark skin albedo (sRGB, 0..1).
SKIN_LIGHT = np.array([0.93, 0.76, 0.66])
SKIN_DARK = np.array([0.34, 0.22, 0.16])


def uniform(gen: torch.Generator, lo, hi, size=()) -> np.ndarray | float:
    """U(lo, hi) from a torch generator, as numpy float64 (scalar when size=())."""
    lo = np.asarray(lo, dtype=np.float64)
    hi = np.asarray(hi, dtype=np.float64)
    shape = tuple(size) if isinstance(size, (tuple, list)) else (size,)
    shape = np.broadcast_shapes(shape, lo.shape, hi.shape)
    r = torch.rand(shape, generator=gen, dtype=torch.float64).numpy()
    out = lo + (hi - lo) * r
    return float(out) if out.ndim == 0 else out


def normal(gen: torch.Generator, size=()) -> np.ndarray:
    shape = tuple(size) if isinstance(size, (tuple, list)) else (size,)
    return torch.randn(shape, generator=gen, dtype=torch.float64).numpy()


def randint(gen: torch.Generator, lo: int, hi: int) -> int:
    """Integer in [lo, hi)."""
    return int(torch.randint(lo, hi, (1,), generator=gen).item())


def choice(gen: torch.Generator, probs) -> int:
    p = torch.as_tensor(probs, dtype=torch.float64)
    return int(torch.multinomial(p / p.sum(), 1, generator=gen).item())


def normalize(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=np.float64)
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)


def rot_x(a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[1.0, 0, 0], [0, c, -s], [0, s, c]])


def rot_z(a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1.0]])


def frame_from(y_axis, z_hint) -> np.ndarray:
    """Rotation whose columns are (x, y, z) with y = y_axis, z ⟂ y closest to z_hint, x = y × z."""
    y = normalize(y_axis)
    z = np.asarray(z_hint, dtype=np.float64) - np.dot(z_hint, y) * y
    z = normalize(z)
    x = np.cross(y, z)
    return np.stack([x, y, z], axis=1)


@dataclass
class HandShape:
    """Per-subject hand geometry (right-hand canonical frame, mm)."""

    is_right: bool
    scale: float = 1.0
    lengths: dict = field(default_factory=lambda: {k: np.array(v) for k, v in _LEN.items()})
    radii: dict = field(default_factory=lambda: {k: np.array(v) for k, v in _RAD.items()})
    width: float = 1.0
    forearm_len: float = 220.0
    skin: np.ndarray = field(default_factory=lambda: SKIN_LIGHT.copy())
    sleeve: np.ndarray | None = None  # colour of a sleeve on the forearm, or None for bare skin


def sample_shape(gen: torch.Generator, is_right: bool) -> HandShape:
    """Random subject: overall scale, per-finger length jitter, width, skin tone, sleeve."""
    scale = uniform(gen, 0.82, 1.12)
    lengths = {k: np.array(v) * scale * uniform(gen, 0.95, 1.05, 3) for k, v in _LEN.items()}
    width = uniform(gen, 0.9, 1.1)
    radii = {k: np.array(v) * scale * width for k, v in _RAD.items()}
    t = uniform(gen, 0.0, 1.0) ** 1.2
    skin = (1 - t) * SKIN_LIGHT + t * SKIN_DARK
    skin = np.clip(skin * uniform(gen, 0.95, 1.05, 3), 0, 1)
    sleeve = None
    if uniform(gen, 0, 1) < 0.4:
        sleeve = uniform(gen, 0.05, 0.9, 3)
    return HandShape(
        is_right=is_right,
        scale=scale,
        lengths=lengths,
        radii=radii,
        width=width,
        forearm_len=uniform(gen, 120.0, 260.0) * scale,
        skin=skin,
        sleeve=sleeve,
    )


# --------------------------------------------------------------------------- poses

POSE_KINDS = ("open", "relaxed", "fist", "point", "pinch", "grasp", "random")


def _finger(mcp, abd, pip, dip):
    return [mcp, abd, pip, dip]


def sample_pose(gen: torch.Generator, kind: str | None = None, grasp_size: float = 40.0) -> np.ndarray:
    """A natural pose vector (POSE_DIM,) of the given kind (random kind when None).

    ``grasp``: a power grasp around an object of about ``grasp_size`` mm radius
    (smaller objects close the fingers more).
    """
    if kind is None:
        kind = POSE_KINDS[choice(gen, (0.18, 0.22, 0.1, 0.08, 0.1, 0.17, 0.15))]
    u = lambda lo, hi: uniform(gen, lo, hi)  # noqa: E731
    p: list[float] = []
    if kind == "random":
        x = uniform(gen, POSE_LO, POSE_HI)
        for i in range(4):  # DIP follows PIP (tendon coupling)
            x[4 * i + 3] = np.clip(0.65 * x[4 * i + 2] + u(-0.2, 0.2), POSE_LO[3], POSE_HI[3])
        return x
    spread = u(-0.1, 0.25)
    abd = lambda i: spread * (1.5 - i) / 1.5 + u(-0.06, 0.06)  # noqa: E731  index + ... pinky −
    for i, f in enumerate(LONG_FINGERS):
        if kind == "open":
            m, pp = u(-0.25, 0.25), u(0.0, 0.3)
        elif kind == "relaxed":
            m, pp = u(0.1, 0.7) + 0.08 * i, u(0.2, 1.0) + 0.08 * i
        elif kind == "fist":
            m, pp = u(1.2, 1.6), u(1.4, 1.9)
        elif kind == "point":
            m, pp = (u(-0.1, 0.3), u(0.0, 0.25)) if f == "index" else (u(1.1, 1.6), u(1.3, 1.9))
        elif kind == "pinch":
            m, pp = (u(0.4, 0.8), u(0.5, 1.0)) if f == "index" else (u(0.1, 1.2), u(0.2, 1.5))
        elif kind == "grasp":
            close = float(np.clip((60.0 - grasp_size) / 40.0, 0.0, 1.0))
            m = u(0.35, 0.7) + 0.4 * close + 0.05 * i
            pp = u(0.5, 0.9) + 0.6 * close
        else:
            raise ValueError(f"unknown pose kind {kind!r}")
        dip = 0.65 * pp + u(-0.15, 0.15)
        p += _finger(m, abd(i) if kind not in ("fist",) else 0.3 * abd(i), pp, dip)
    if kind == "open":
        th = [u(-0.3, 0.2), u(-0.1, 0.5), u(-0.1, 0.3), u(-0.2, 0.3)]
    elif kind == "relaxed":
        th = [u(0.0, 0.5), u(-0.2, 0.3), u(0.0, 0.5), u(0.0, 0.6)]
    elif kind in ("fist", "point"):
        th = [u(0.5, 0.9), u(-0.4, 0.0), u(0.3, 0.9), u(0.2, 0.9)]
    elif kind == "pinch":
        th = [u(0.5, 0.85), u(-0.3, 0.1), u(0.1, 0.5), u(0.0, 0.5)]
    else:  # grasp
        th = [u(0.3, 0.75), u(-0.3, 0.2), u(0.1, 0.6), u(0.1, 0.7)]
    cup = u(0.0, 1.0) if kind != "open" else u(0.0, 0.3)
    x = np.array(p + th + [cup])
    return np.clip(x, POSE_LO, POSE_HI)


# --------------------------------------------------------------------------- kinematics


def forward_kinematics(shape: HandShape, pose: np.ndarray) -> tuple[np.ndarray, dict]:
    """21 joints (21×3, mm) in the hand frame of this hand (mirrored for a left hand).

    Also returns the (right-hand frame) MCP positions after cupping, for the geometry.
    """
    s = shape.scale
    J = np.zeros((NUM_JOINTS, 3))
    cup = pose[20]
    mcps = {}
    for i, f in enumerate(LONG_FINGERS):
        mcp_f, abd, pip, dip = pose[4 * i: 4 * i + 4]
        chain = NETWORK_FINGER_CHAINS[f]
        base = np.array(_MCP[f]) * s * np.array([shape.width, 1.0, 1.0])
        base[2] += _CUP_Z[f] * cup * s
        mcps[f] = base
        L = shape.lengths[f]
        F = rot_z(-(_SPLAY[f] + 0.25 * _SPLAY[f] * cup)) @ rot_z(-abd) @ rot_x(mcp_f)
        J[chain[0]] = base
        J[chain[1]] = J[chain[0]] + F[:, 1] * L[0]
        F = F @ rot_x(pip)
        J[chain[2]] = J[chain[1]] + F[:, 1] * L[1]
        F = F @ rot_x(dip)
        J[chain[3]] = J[chain[2]] + F[:, 1] * L[2]
    cmc_flex, cmc_abd, t_mcp, t_ip = pose[16:20]
    chain = NETWORK_FINGER_CHAINS["thumb"]
    L = shape.lengths["thumb"]
    F = frame_from(_THUMB_DIR, _THUMB_FLEX) @ rot_z(-cmc_abd) @ rot_x(cmc_flex)
    J[chain[0]] = np.array(_THUMB_CMC) * s
    J[chain[1]] = J[chain[0]] + F[:, 1] * L[0]
    F = F @ rot_x(t_mcp)
    J[chain[2]] = J[chain[1]] + F[:, 1] * L[1]
    F = F @ rot_x(t_ip)
    J[chain[3]] = J[chain[2]] + F[:, 1] * L[2]
    if not shape.is_right:
        J[:, 0] = -J[:, 0]
        mcps = {k: v * np.array([-1.0, 1, 1]) for k, v in mcps.items()}
    return J, mcps


@dataclass
class HandGeometry:
    """Primitives of one hand in its hand frame (already mirrored for a left hand)."""

    cap_a: np.ndarray  # K×3
    cap_b: np.ndarray  # K×3
    cap_r: np.ndarray  # K
    cap_part: np.ndarray  # K (PART_SKIN / PART_SLEEVE)
    ell_center: np.ndarray  # 3
    ell_axes: np.ndarray  # 3 semi-axes along the hand frame's x, y, z
    joint_radius: np.ndarray  # 21: how far in front of the joint the surface can be


def hand_geometry(shape: HandShape, joints: np.ndarray, mcps: dict) -> HandGeometry:
    """Capsules + palm ellipsoid covering the skeleton ``joints`` (hand frame)."""
    s = shape.scale
    w = shape.width
    mirror = np.array([1.0, 1.0, 1.0]) if shape.is_right else np.array([-1.0, 1.0, 1.0])
    A, B, R, P = [], [], [], []

    def cap(a, b, r, part=PART_SKIN):
        A.append(np.asarray(a, float)); B.append(np.asarray(b, float)); R.append(float(r)); P.append(part)

    for f in NETWORK_FINGER_CHAINS:
        c = NETWORK_FINGER_CHAINS[f]
        r = shape.radii[f]
        cap(joints[c[0]], joints[c[1]], r[0])
        cap(joints[c[1]], joints[c[2]], r[1])
        d = joints[c[3]] - joints[c[2]]
        d = d / max(np.linalg.norm(d), 1e-9)
        cap(joints[c[2]], joints[c[3]] + TIP_INSET * r[2] * d, r[2])
    # Palm: metacarpals from the wrist line to each MCP, knuckle bar, wrist bar, thenar.
    rp = 10.5 * s * w
    for f in LONG_FINGERS:
        m = mcps[f]
        start = np.array([0.45 * m[0], 14.0 * s, 1.0 * s])
        cap(start, m, rp * (0.9 if f == "pinky" else 1.0))
    cap(mcps["index"], mcps["pinky"], 9.5 * s * w)
    cap(np.array([-19.0, 6.0, 0.0]) * s * mirror, np.array([17.0, 6.0, 0.0]) * s * mirror, 14.5 * s * w)
    cmc = joints[NETWORK_FINGER_CHAINS["thumb"][0]]
    tmcp = joints[NETWORK_FINGER_CHAINS["thumb"][1]]
    cap(np.array([6.0, 18.0, 3.0]) * s * mirror, 0.5 * (cmc + tmcp), 12.5 * s * w)
    # Forearm: two parallel capsules (a flattened wrist), sleeve optional.
    part = PART_SLEEVE if shape.sleeve is not None else PART_SKIN
    fr = 18.0 * s * w
    for sx in (-1.0, 1.0):
        a = np.array([sx * 10.0 * s, -4.0 * s, 0.0]) * mirror
        b = np.array([sx * 12.5 * s, -shape.forearm_len, 0.0]) * mirror
        if part == PART_SLEEVE:
            cap(a, a + np.array([0, -24.0 * s, 0]), fr)
            cap(a + np.array([0, -22.0 * s, 0]), b, fr * 1.06, PART_SLEEVE)
        else:
            cap(a, b, fr)
    cap_a, cap_b, cap_r = np.stack(A), np.stack(B), np.array(R)
    ell_c = np.array([-3.0 * w, 48.0, 1.5]) * s * mirror
    ell_ax = np.array([30.0 * w, 38.0, 11.5]) * s
    # Joint radius: max over capsules containing the joint of (r + distance to the axis).
    ab = cap_b - cap_a
    tt = np.einsum("jkc,kc->jk", joints[:, None, :] - cap_a[None], ab) / np.maximum((ab * ab).sum(-1), 1e-9)
    closest = cap_a[None] + np.clip(tt, 0, 1)[..., None] * ab[None]
    dist = np.linalg.norm(joints[:, None, :] - closest, axis=-1)
    inside = dist <= cap_r[None] + 1e-6
    jr = np.where(inside, cap_r[None] + dist, 0.0).max(axis=1)
    return HandGeometry(cap_a, cap_b, cap_r, np.array(P), ell_c, ell_ax, jr)


def palm_center_local(shape: HandShape) -> np.ndarray:
    """A point at the palm centre (hand frame), used to place hands in the image."""
    return np.array([0.0, 55.0, 0.0]) * shape.scale
