"""Procedural articulated hand: skeleton, joint limits, pose sampling, a continuous skin.

No MANO files. The canonical hand is a *right* hand in its own frame (mm):

* x: radial (towards the thumb side), y: distal (wrist → middle finger),
  z: volar (the palm normal, the side the fingers flex towards);
* the wrist joint is the origin.

A left hand is the mirror image (x ↦ −x) of the right hand in this frame; the
rigid placement into the camera frame is then a proper rotation, so for a right
hand ``thumb side = finger direction × palm normal`` and for a left hand the
opposite (test/test_synthetic.py checks it).

Labels are placed as the MANO-based datasets (DexYCB, HO-3D) and F-PHAB place theirs:
the wrist at the wrist joint centre, MCP / PIP / DIP (and the thumb's CMC, MCP, IP) at
the joint centres on the bone axes, inside the finger and the palm, and the five **tips
on the finger-tip surface** (the end of the distal pad). Bone lengths, knuckle positions
and radii are an adult average at ``scale`` 1 (wrist → middle tip 186 mm extended);
subjects draw ``scale`` from an adult range (see :func:`sample_shape`).

The skin is the smooth union (:mod:`.sdf`) of round cones: one per phalanx tapering
towards the tip, four metacarpals with a distal palmar pad, thenar and hypothenar
eminences and a carpal bar that fuse into a palm of real thickness (≈ 24–28 mm), and a
flattened forearm of two cones (optionally covered by a sleeve from some distance above
the wrist). The blend radius rounds knuckles and fills the web between the fingers.

Everything here is small per-hand numpy (float64); randomness is drawn from a
``torch.Generator`` passed in (no global RNG).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from ...joints import NETWORK_FINGER_CHAINS as NET_CHAINS
from ...joints import NUM_JOINTS

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

# Canonical adult right hand (mm). MCP joint centres (mid-thickness of the knuckles).
_MCP = {"index": (24.0, 86.0, 0.0), "middle": (3.0, 90.0, 0.0), "ring": (-15.0, 84.0, 0.0), "pinky": (-31.0, 74.0, 0.0)}
_SPLAY = {"index": 0.10, "middle": 0.0, "ring": -0.09, "pinky": -0.20}  # + towards the thumb
#: Joint-to-joint lengths; the last one of each finger ends on the tip surface.
_LEN = {
    "index": (40.0, 23.0, 23.0),
    "middle": (44.0, 27.0, 25.0),
    "ring": (41.0, 26.0, 24.0),
    "pinky": (32.0, 18.0, 21.0),
    "thumb": (40.0, 31.0, 28.0),
}
#: Skin radius at the four joints of each finger (base, middle joints, tip).
_RAD = {
    "index": (10.0, 8.8, 7.8, 6.6),
    "middle": (10.2, 9.0, 8.0, 6.8),
    "ring": (9.6, 8.5, 7.5, 6.4),
    "pinky": (8.6, 7.5, 6.6, 5.7),
    "thumb": (13.0, 11.0, 9.6, 8.2),
}
_THUMB_CMC = (19.0, 22.0, 9.0)
_THUMB_DIR = (0.58, 0.72, 0.38)
_THUMB_FLEX = (-0.55, 0.0, 0.83)
_CUP_Z = {"index": 2.0, "middle": 0.0, "ring": 4.0, "pinky": 9.0}
#: Blend radius of the skin's smooth union (mm; see :mod:`.sdf`).
SKIN_BLEND_MM = 2.5

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


def rot_x(a) -> np.ndarray:
    """Rotation(s) about x by ``a`` (scalar → 3×3, array (N,) → N×3×3)."""
    a = np.asarray(a, dtype=np.float64)
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([o, z, z], -1), np.stack([z, c, -s], -1), np.stack([z, s, c], -1)], -2)


def rot_z(a) -> np.ndarray:
    """Rotation(s) about z by ``a`` (scalar → 3×3, array (N,) → N×3×3)."""
    a = np.asarray(a, dtype=np.float64)
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([c, -s, z], -1), np.stack([s, c, z], -1), np.stack([z, z, o], -1)], -2)


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
    thickness: float = 1.0  # palm / finger thickness factor along z
    forearm_len: float = 250.0
    skin: np.ndarray = field(default_factory=lambda: SKIN_LIGHT.copy())
    sleeve: np.ndarray | None = None  # colour of a sleeve on the forearm, or None for bare skin
    sleeve_from: float = 40.0  # the sleeve starts this far (mm) above the wrist
    upper_arm_dir: np.ndarray | None = None  # this hand's frame: the upper arm from the elbow (None: not modelled)


def sample_shape(gen: torch.Generator, is_right: bool) -> HandShape:
    """Random adult subject: scale (hand length 155–205 mm), per-bone jitter, width, skin tone, sleeve."""
    scale = uniform(gen, 0.83, 1.10)
    lengths = {k: np.array(v) * scale * uniform(gen, 0.95, 1.05, 3) for k, v in _LEN.items()}
    width = uniform(gen, 0.9, 1.1)
    radii = {k: np.array(v) * scale * width for k, v in _RAD.items()}
    t = uniform(gen, 0.0, 1.0) ** 1.2
    skin = (1 - t) * SKIN_LIGHT + t * SKIN_DARK
    skin = np.clip(skin * uniform(gen, 0.93, 1.07, 3), 0, 1)
    sleeve = None
    if uniform(gen, 0, 1) < 0.45:
        sleeve = uniform(gen, 0.03, 0.9, 3)
    return HandShape(
        is_right=is_right,
        scale=scale,
        lengths=lengths,
        radii=radii,
        width=width,
        thickness=uniform(gen, 0.92, 1.1),
        forearm_len=uniform(gen, 230.0, 280.0) * scale,
        skin=skin,
        sleeve=sleeve,
        sleeve_from=uniform(gen, 25.0, 120.0) * scale,
    )


# --------------------------------------------------------------------------- poses

POSE_KINDS = ("open", "relaxed", "fist", "point", "pinch", "grasp", "random")


def sample_pose(gen: torch.Generator, kind: str | None = None, grasp_size: float = 40.0) -> np.ndarray:
    """A natural free-hand pose vector (POSE_DIM,) of the given kind (random kind when None).

    ``grasp``: a power grasp around an object of about ``grasp_size`` mm radius
    (smaller objects close the fingers more). Grasps of real objects with contact are
    made by :mod:`.grasp`, which starts from these poses.
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
        p += [m, abd(i) if kind != "fist" else 0.3 * abd(i), pp, dip]
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


def finger_chain(shape: HandShape, finger: str, pose: np.ndarray) -> np.ndarray:
    """Joints of one finger (N×4×3, right-hand frame, base → tip) for N pose vectors (N×POSE_DIM)."""
    pose = np.atleast_2d(pose)
    s = shape.scale
    L = shape.lengths[finger]
    if finger == "thumb":
        cmc_flex, cmc_abd, t_mcp, t_ip = (pose[:, 16 + k] for k in range(4))
        F = frame_from(_THUMB_DIR, _THUMB_FLEX)[None] @ rot_z(-cmc_abd) @ rot_x(cmc_flex)
        base = np.broadcast_to(np.array(_THUMB_CMC) * s, (len(pose), 3))
        flex = (t_mcp, t_ip)
    else:
        i = LONG_FINGERS.index(finger)
        mcp_f, abd, pip, dip = (pose[:, 4 * i + k] for k in range(4))
        cup = pose[:, 20]
        base = np.array(_MCP[finger]) * s * np.array([shape.width, 1.0, 1.0])
        base = np.repeat(base[None], len(pose), 0)
        base[:, 2] += _CUP_Z[finger] * cup * s
        F = rot_z(-(_SPLAY[finger] + 0.25 * _SPLAY[finger] * cup)) @ rot_z(-abd) @ rot_x(mcp_f)
        flex = (pip, dip)
    out = np.zeros((len(pose), 4, 3))
    out[:, 0] = base
    out[:, 1] = base + F[:, :, 1] * L[0]
    F = F @ rot_x(flex[0])
    out[:, 2] = out[:, 1] + F[:, :, 1] * L[1]
    F = F @ rot_x(flex[1])
    out[:, 3] = out[:, 2] + F[:, :, 1] * L[2]
    return out


def forward_kinematics(shape: HandShape, pose: np.ndarray) -> tuple[np.ndarray, dict]:
    """21 joints (21×3, mm, network joint order) in the hand frame of this hand (mirrored for a left hand).

    Also returns the (mirrored) MCP positions after cupping, for the geometry.
    """
    J = np.zeros((NUM_JOINTS, 3))
    for f in NET_CHAINS:
        J[list(NET_CHAINS[f])] = finger_chain(shape, f, pose)[0]
    mcps = {f: J[NET_CHAINS[f][0]].copy() for f in LONG_FINGERS}
    if not shape.is_right:
        J[:, 0] = -J[:, 0]
        mcps = {k: v * np.array([-1.0, 1, 1]) for k, v in mcps.items()}
    return J, mcps


@dataclass
class HandGeometry:
    """Round cones of one hand's skin in its hand frame (already mirrored for a left hand)."""

    cones: np.ndarray  # K×8: a(3), b(3), r_a, r_b
    part: np.ndarray  # K (PART_SKIN / PART_SLEEVE)
    joint_radius: np.ndarray  # 21: how far in front of the joint the surface can be
    blend: float = SKIN_BLEND_MM


def finger_cones(shape: HandShape, chain: np.ndarray, finger: str) -> np.ndarray:
    """Round cones (…×3×8) of the three segments of fingers ``chain`` (…×4×3, base → tip surface)."""
    r = shape.radii[finger]
    d = chain[..., 3, :] - chain[..., 2, :]
    d = d / np.maximum(np.linalg.norm(d, axis=-1, keepdims=True), 1e-9)
    tip_centre = chain[..., 3, :] - r[3] * d  # the end sphere touches the tip joint
    a = np.stack([chain[..., 0, :], chain[..., 1, :], chain[..., 2, :]], -2)
    b = np.stack([chain[..., 1, :], chain[..., 2, :], tip_centre], -2)
    ra = np.broadcast_to(np.array(r[:3]), a.shape[:-1])
    rb = np.broadcast_to(np.array([r[1], r[2], r[3]]), a.shape[:-1])
    return np.concatenate([a, b, ra[..., None], rb[..., None]], -1)


def palm_cones(shape: HandShape, joints: np.ndarray, mcps: dict) -> tuple[list, list]:
    """Round cones of palm, wrist and forearm (hand frame, mirrored for a left hand) and their parts."""
    s, w, th = shape.scale, shape.width, shape.thickness
    m = np.array([1.0, 1.0, 1.0]) if shape.is_right else np.array([-1.0, 1.0, 1.0])
    cones, parts = [], []

    def cone(a, b, ra, rb, part=PART_SKIN):
        cones.append(np.concatenate([a, b, [ra, rb]]))
        parts.append(part)

    def P(x, y, z):  # canonical right-hand point → this hand
        return np.array([x * w, y, z]) * s * m

    # metacarpals: carpus → each MCP (knuckle); they fuse into the palm
    base = {"index": (13.0, 16.0, 1.0), "middle": (3.0, 15.0, 1.0), "ring": (-8.0, 16.0, 1.0),
            "pinky": (-17.0, 19.0, 1.0)}
    r_mc = {"index": 11.5, "middle": 11.5, "ring": 10.8, "pinky": 10.0}
    for f in LONG_FINGERS:
        cone(P(*base[f]), mcps[f], 11.5 * s * th, r_mc[f] * s * th)
    # volar pads: distal palmar pad, hypothenar, thenar (towards the thumb's MCP)
    cone(P(17.0, 68.0, 6.0), P(-25.0, 62.0, 6.0), 8.5 * s * th, 8.0 * s * th)
    cone(P(-19.0, 24.0, 5.0), P(-28.0, 58.0, 4.0), 11.0 * s * th, 9.0 * s * th)
    t_cmc, t_mcp = joints[NET_CHAINS["thumb"][0]], joints[NET_CHAINS["thumb"][1]]
    cone(P(9.0, 20.0, 6.0), 0.55 * t_cmc + 0.45 * t_mcp, 14.0 * s * th, 11.5 * s * th)
    # carpus / wrist bar
    cone(P(-19.0, 6.0, 1.0), P(19.0, 6.0, 1.0), 15.0 * s * th, 15.0 * s * th)
    # forearm: two cones side by side (a flattened wrist), sleeve from sleeve_from up
    L = shape.forearm_len
    for sx in (-1.0, 1.0):
        a = P(sx * 11.0, -6.0, 0.0)
        b = np.array([sx * 15.0 * s * w, -L, 0.0]) * m
        ra, rb = 17.0 * s * th, 23.0 * s * th
        if shape.sleeve is None:
            cone(a, b, ra, rb)
        else:
            f0 = float(np.clip(shape.sleeve_from / L, 0.05, 0.9))
            mid = a + f0 * (b - a)
            rm = ra + f0 * (rb - ra)
            cone(a, mid, ra, rm)
            cone(mid, b, rm * 1.06 + 1.5, rb * 1.06 + 1.5, PART_SLEEVE)
    if shape.upper_arm_dir is not None:  # elbow and upper arm (third-person views)
        part = PART_SKIN if shape.sleeve is None else PART_SLEEVE
        grow = 1.0 if shape.sleeve is None else 1.08
        e = np.array([0.0, -L, 0.0])
        cone(e, e + normalize(shape.upper_arm_dir) * 290.0 * s, 27.0 * s * grow, 38.0 * s * grow, part)
    return cones, parts


def hand_geometry(shape: HandShape, joints: np.ndarray, mcps: dict) -> HandGeometry:
    """The skin's round cones covering the skeleton ``joints`` (hand frame, network order)."""
    cones, parts = palm_cones(shape, joints, mcps)
    for f, chain_idx in NET_CHAINS.items():
        c = finger_cones(shape, joints[list(chain_idx)], f)
        cones.extend(list(c))
        parts.extend([PART_SKIN] * 3)
    cones = np.stack(cones)
    # joint radius: the farthest the skin can be in front of the joint, from the cones that contain it
    a, b, ra, rb = cones[:, 0:3], cones[:, 3:6], cones[:, 6], cones[:, 7]
    ab = b - a
    t = np.einsum("jkc,kc->jk", joints[:, None, :] - a[None], ab) / np.maximum((ab * ab).sum(-1), 1e-9)
    t = np.clip(t, 0, 1)
    closest = a[None] + t[..., None] * ab[None]
    dist = np.linalg.norm(joints[:, None, :] - closest, axis=-1)
    rad = ra[None] + t * (rb - ra)[None]
    inside = dist <= rad + 1e-6
    jr = np.where(inside, rad + dist, 0.0).max(axis=1) + SKIN_BLEND_MM * math.log(4.0)  # + the skin's blend
    return HandGeometry(cones, np.array(parts), jr)


def palm_center_local(shape: HandShape) -> np.ndarray:
    """A point at the palm centre (hand frame), used to place hands in the image."""
    return np.array([0.0, 55.0, 0.0]) * shape.scale
