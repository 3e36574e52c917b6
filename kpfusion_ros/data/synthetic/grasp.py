"""Grasps of real-sized objects with finger contact and no interpenetration.

A grasp is made in the hand frame (:mod:`.hand_model`, right-hand canonical, mm):

1. an object of a real size is placed where that grasp type holds it — against the
   palm for a power grasp (cylinders, mugs, bottles, spheres, boxes), between the pads
   of the thumb, index (and middle) for precision / tripod grasps, between the thumb and
   the side of the index for a lateral grasp (cards, keys: thin boxes);
2. the fingers that take part close joint by joint (MCP, then PIP with the DIP coupled,
   then DIP; the thumb CMC, MCP, IP) from an open start until their skin touches the
   object: for every joint the first angle on a fine grid at which any point of the
   finger's skin beyond that joint would enter the object is found at once (vectorised
   over the grid), and the joint stops one step before it; fingers that take no part
   curl (power) or relax (precision);
3. the palm is kept out of the object by pushing the object along the palm normal.

The object's pose is returned in the hand frame so that the caller can place both in
the camera frame with the hand's rigid transform (a left hand is the mirror image, so
the object is mirrored with it).

Object kinds and sizes (mm): sphere r 20–50; cylinder (cans, bottles, shakers) r 15–45,
half-length 35–110; mug = cylinder r 35–45 with a handle; box half extents 15–50; thin
box (card, key) 1–4 thick; pen r 4–8.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from . import hand_model as hm
from .hand_model import LONG_FINGERS, choice, uniform

GRASP_KINDS = ("power", "precision", "tripod", "lateral")


@dataclass
class GraspObject:
    """An object in some frame: kind, centre, rotation (columns = object axes), size, mug handle."""

    kind: str  # "sphere" | "cylinder" | "box" | "mug"
    center: np.ndarray
    R: np.ndarray
    size: np.ndarray  # sphere (r,0,0); cylinder/mug (r, half_len, 0); box half extents (3)

    def moved(self, R: np.ndarray, t: np.ndarray) -> "GraspObject":
        return GraspObject(self.kind, R @ self.center + t, R @ self.R, self.size.copy())

    def mirrored_x(self) -> "GraspObject":
        """The mirror image (x ↦ −x) as a proper rotation (objects are symmetric enough)."""
        Mx = np.diag([-1.0, 1.0, 1.0])
        R = Mx @ self.R @ Mx
        return GraspObject(self.kind, self.center * np.array([-1.0, 1, 1]), R, self.size.copy())

    def handle_segments(self) -> list[tuple[np.ndarray, np.ndarray, float]]:
        """A mug's handle as capsules (a, b, r) in this object's frame (empty for other kinds)."""
        if self.kind != "mug":
            return []
        r, h = self.size[0], self.size[1]
        rr = 0.55 * h  # handle loop radius
        tube = max(3.5, 0.11 * r)
        pts = []
        for a in np.linspace(-0.5 * math.pi, 0.5 * math.pi, 6):
            pts.append(np.array([r + rr * 0.75 * math.cos(a), rr * math.sin(a), 0.0]))
        out = []
        for p, q in zip(pts[:-1], pts[1:]):
            out.append((self.R @ p + self.center, self.R @ q + self.center, tube))
        return out

    def sdf(self, p: np.ndarray) -> np.ndarray:
        """Signed distance (mm) of points p (…×3) to this object."""
        q = (p - self.center) @ self.R  # object frame
        if self.kind == "sphere":
            d = np.linalg.norm(q, axis=-1) - self.size[0]
        elif self.kind in ("cylinder", "mug"):
            r, h = self.size[0], self.size[1]
            dr = np.linalg.norm(q[..., [0, 2]], axis=-1) - r
            dy = np.abs(q[..., 1]) - h
            d = np.minimum(np.maximum(dr, dy), 0.0) + np.linalg.norm(
                np.stack([np.maximum(dr, 0), np.maximum(dy, 0)], -1), axis=-1)
        else:
            e = np.abs(q) - self.size
            d = np.linalg.norm(np.maximum(e, 0.0), axis=-1) + np.minimum(e.max(-1), 0.0)
        for a, b, rt in self.handle_segments():
            ab = b - a
            t = np.clip(((p - a) @ ab) / max(ab @ ab, 1e-9), 0, 1)
            d = np.minimum(d, np.linalg.norm(p - (a + t[..., None] * ab), axis=-1) - rt)
        return d


def _skin_samples(shape: hm.HandShape, chain: np.ndarray, finger: str, first_seg: int):
    """Points (…×P×3) and radii (P) on the finger axis from segment ``first_seg`` to the tip sphere."""
    cones = hm.finger_cones(shape, chain, finger)[..., first_seg:, :]  # …×S×8
    t = np.linspace(0.0, 1.0, 6)
    a, b = cones[..., 0:3], cones[..., 3:6]
    p = a[..., None, :] + t[:, None] * (b - a)[..., None, :]  # …×S×6×3
    r = cones[..., 6, None] + t * (cones[..., 7] - cones[..., 6])[..., None]
    sh = p.shape
    return p.reshape(*sh[:-3], sh[-3] * sh[-2], 3), r.reshape(*r.shape[:-2], -1)


def _penetrates(obj: GraspObject, shape, finger: str, pose_grid: np.ndarray, first_seg: int,
                margin: float = 0.5) -> np.ndarray:
    """For N candidate poses (N×POSE_DIM): does the finger's skin beyond ``first_seg`` enter ``obj``?"""
    chain = hm.finger_chain(shape, finger, pose_grid)  # N×4×3 (right-hand frame)
    p, r = _skin_samples(shape, chain, finger, first_seg)
    return (obj.sdf(p) < r - margin).any(-1)


def close_finger(obj: GraspObject, shape, finger: str, pose: np.ndarray, targets: dict[int, float],
                 steps: int = 40) -> np.ndarray:
    """Close the joints ``targets`` (pose index → final angle) of one finger in order until contact."""
    pose = pose.copy()
    seg_of = {0: 0, 2: 1, 3: 2}  # pose offset of the joint (flex, -, pip/mcp, dip/ip) → first segment it moves
    for j, goal in targets.items():
        i0 = (LONG_FINGERS.index(finger) * 4) if finger != "thumb" else 16
        seg = seg_of[j - i0]
        grid = np.linspace(pose[j], goal, steps)
        cand = np.repeat(pose[None], steps, 0)
        cand[:, j] = grid
        if finger != "thumb" and j - i0 == 2:  # the DIP follows the PIP
            cand[:, j + 1] = np.maximum(pose[j + 1], 0.6 * grid)
        hit = _penetrates(obj, shape, finger, cand, seg)
        if hit[0]:  # already inside the object: open this joint until it is out
            cand[:, j] = np.linspace(pose[j], hm.POSE_LO[j], steps)
            out = ~_penetrates(obj, shape, finger, cand, seg)
            if out.any():
                pose = cand[int(np.argmax(out))]
            continue
        k = int(np.argmax(hit)) - 1 if hit.any() else steps - 1
        pose = cand[max(k, 0)]
    return np.clip(pose, hm.POSE_LO, hm.POSE_HI)


def _palm_clear(obj: GraspObject, shape, joints, mcps, normal=np.array([0.0, 0.0, 1.0])) -> GraspObject:
    """Push the object along the palm normal until the palm's cones are out of it."""
    cones, _ = hm.palm_cones(shape, joints, mcps)
    cones = np.stack(cones)[:-2]  # not the forearm
    t = np.linspace(0, 1, 5)
    p = cones[:, None, 0:3] + t[:, None] * (cones[:, None, 3:6] - cones[:, None, 0:3])
    r = cones[:, None, 6] + t * (cones[:, None, 7] - cones[:, None, 6])
    for _ in range(40):
        pen = (r - obj.sdf(p)).max()
        if pen <= 0.5:
            break
        obj = GraspObject(obj.kind, obj.center + normal * (pen + 0.5), obj.R, obj.size)
    return obj


def _object_for(gen, kind: str) -> GraspObject:
    eye = np.eye(3)
    if kind == "power":
        k = ("cylinder", "sphere", "box", "mug")[choice(gen, (0.45, 0.2, 0.2, 0.15))]
        if k == "cylinder":
            size = np.array([uniform(gen, 15.0, 42.0), uniform(gen, 35.0, 110.0), 0.0])
        elif k == "mug":
            size = np.array([uniform(gen, 35.0, 45.0), uniform(gen, 40.0, 55.0), 0.0])
        elif k == "sphere":
            size = np.array([uniform(gen, 22.0, 48.0), 0.0, 0.0])
        else:
            size = np.array([uniform(gen, 20.0, 45.0), uniform(gen, 25.0, 60.0), uniform(gen, 15.0, 40.0)])
        return GraspObject(k, np.zeros(3), eye, size)
    if kind in ("precision", "tripod"):
        k = ("sphere", "cylinder", "box")[choice(gen, (0.4, 0.4, 0.2))]
        if k == "sphere":
            size = np.array([uniform(gen, 8.0, 22.0), 0.0, 0.0])
        elif k == "cylinder":
            size = np.array([uniform(gen, 4.0, 16.0), uniform(gen, 20.0, 70.0), 0.0])
        else:
            size = uniform(gen, 6.0, 20.0, 3)
        return GraspObject(k, np.zeros(3), eye, size)
    # lateral: a card or a key
    size = np.array([uniform(gen, 12.0, 42.0), uniform(gen, 10.0, 27.0), uniform(gen, 0.6, 2.5)])
    return GraspObject("box", np.zeros(3), eye, size)


def max_penetration(obj: GraspObject, shape: hm.HandShape, pose: np.ndarray) -> float:
    """Deepest entry (mm) of any finger's skin into the object (≤ 0: none)."""
    right = hm.HandShape(**{**shape.__dict__, "is_right": True})
    worst = -np.inf
    for f in ("thumb",) + LONG_FINGERS:
        p, r = _skin_samples(right, hm.finger_chain(right, f, pose)[0], f, 0)
        worst = max(worst, float((r - obj.sdf(p)).max()))
    return worst


def make_grasp(gen: torch.Generator, shape: hm.HandShape, kind: str | None = None, tries: int = 6):
    """A grasp: (pose POSE_DIM, object in the *right-hand* canonical frame, grasp kind).

    A grasp in which some finger still enters the object by more than 1 mm after closing (a
    thumb base inside a large object, say) is drawn again, up to ``tries`` times. The caller
    mirrors the object with :meth:`GraspObject.mirrored_x` for a left hand.
    """
    if kind is None:
        kind = GRASP_KINDS[choice(gen, (0.55, 0.15, 0.15, 0.15))]
    for _ in range(tries):
        pose, obj = _one_grasp(gen, shape, kind)
        if max_penetration(obj, shape, pose) <= 1.0:
            break
    return pose, obj, kind


def _one_grasp(gen: torch.Generator, shape: hm.HandShape, kind: str):
    s = shape.scale
    right = hm.HandShape(**{**shape.__dict__, "is_right": True})
    obj = _object_for(gen, kind)
    pose = hm.sample_pose(gen, "open")
    u = lambda lo, hi: uniform(gen, lo, hi)  # noqa: E731
    if kind == "power":
        pose[[1, 5, 9, 13]] *= 0.3  # fingers together
        pose[16:20] = [u(0.2, 0.5), u(-0.4, -0.1), u(0.0, 0.2), u(0.0, 0.2)]
        pose[20] = u(0.3, 1.0)
        if obj.kind in ("cylinder", "mug"):
            # axis across the palm, tilted towards the thumb; centre over the distal palm
            tilt = u(0.25, 0.7)
            obj.R = hm.rot_z(math.pi / 2 + tilt) @ hm.rot_x(u(-0.2, 0.2))
            y = u(62.0, 80.0) * s
        elif obj.kind == "box":
            obj.R = hm.rot_z(u(-0.4, 0.4) + math.pi / 2)
            y = u(58.0, 75.0) * s
        else:
            y = u(52.0, 66.0) * s
        thick = obj.size[2] if obj.kind == "box" else obj.size[0]
        obj.center = np.array([u(-8.0, 6.0) * s, y, 12.0 * s + thick + u(0.0, 4.0)])
    elif kind in ("precision", "tripod"):
        pose[16:20] = [u(0.45, 0.8), u(-0.3, 0.1), u(0.0, 0.3), u(0.0, 0.3)]
        obj.R = hm.rot_z(u(-0.8, 0.8)) @ hm.rot_x(u(-0.6, 0.6))
        r = obj.size[0] if obj.kind != "box" else float(obj.size.min())
        obj.center = np.array([u(14.0, 28.0) * s, u(118.0, 138.0) * s, u(38.0, 55.0) * s + r])
    else:  # lateral: index curled, card against the radial side of its middle phalanx
        pose[0:4] = [u(0.6, 1.0), 0.0, u(0.9, 1.3), u(0.5, 0.9)]
        idx = hm.finger_chain(right, "index", pose)[0]
        mid = 0.5 * (idx[1] + idx[2])
        rr = shape.radii["index"][1]
        obj.R = hm.frame_from(idx[2] - idx[1], np.array([1.0, 0.0, 0.0])) @ hm.rot_z(math.pi / 2)
        obj.center = mid + np.array([rr + obj.size[2] + 0.5, 0.0, 0.0]) + obj.R @ np.array([0.0, obj.size[1] * 0.4, 0.0])
        pose[16:20] = [u(0.0, 0.3), u(0.2, 0.5), u(-0.1, 0.1), u(-0.1, 0.1)]
    J0, mcps = hm.forward_kinematics(right, pose)
    obj = _palm_clear(obj, right, J0, mcps)
    # which fingers close how far
    close = {"power": ("index", "middle", "ring", "pinky", "thumb"),
             "precision": ("index", "thumb"),
             "tripod": ("index", "middle", "thumb"),
             "lateral": ("thumb",)}[kind]
    for f in LONG_FINGERS:
        i0 = 4 * LONG_FINGERS.index(f)
        if f in close:
            pose = close_finger(obj, right, f, pose, {i0: 1.55, i0 + 2: 1.85, i0 + 3: 1.3})
        elif kind != "lateral":  # the others curl (power) or rest half-bent (precision)
            base = 1.2 if kind == "power" else u(0.3, 1.4)
            pose = close_finger(obj, right, f, pose, {i0: base, i0 + 2: base + 0.3, i0 + 3: 0.8})
        else:
            pose = close_finger(obj, right, f, pose, {i0: u(0.9, 1.5), i0 + 2: u(1.2, 1.8), i0 + 3: 1.0})
    if "thumb" in close:
        pose = close_finger(obj, right, "thumb", pose, {16: 0.95, 18: 0.9, 19: 1.2})
    return np.clip(pose, hm.POSE_LO, hm.POSE_HI), obj
