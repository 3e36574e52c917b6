"""Two hands crossing in front of the camera, without passing through each other.

A *crossing* pulls the second hand of a rendered sequence (:func:`.sequence.render_sequence`) onto the first
hand's position in the image around a chosen time, at a depth gap, so that one hand occludes the other for a
while. That is where a tracker can swap identities or let one track take over the other hand.

The second hand's path is placed over the whole sequence at once (:meth:`CrossingMotion.plan`):

1. The pull. With ``w(t)`` a smooth bump (0 outside the window, 1 on its middle ``hold_s``), the second hand's
   joint mean moves from where its own path has it towards ``first hand's joint mean + offset + order · gap · ẑ``
   (a small lateral offset; a depth gap ``gap_mm`` between the joint means, drawn in 60–120 mm).
2. The depth order. ``order`` (+1: the second hand behind the first, −1: in front) is the sign of the depth
   difference of the two joint means, re-read on every frame where the hands are not near each other in the
   image and outside the crossing window, and held otherwise. The hands' skins are the renderer's round cones
   (:func:`.scene.hand_cones`), sampled as spheres along each cone's axis; the first hand's held object is added
   as its bounding sphere. A frame is *separated* when no two spheres come closer than ``margin_mm`` and every
   pair of spheres that overlap in the image lies in ``order``, at least their radii and the margin apart in
   depth (this requirement fades in over ``ORDER_BAND_MM`` of image distance before the images touch). Where a
   frame is not, the second hand is pushed along ``order`` (camera z) by the least amount that
   separates it (bisection to 0.5 mm). So while the hands overlap in the image, their depth order cannot flip:
   they cannot pass through each other.
3. Smoothness. Each frame's push is found first on its own; then, per depth order, the pushes are spread in time
   (:func:`rate_limited`) so that the second hand's extra depth changes by at most ``max_speed_mm_s`` (450 mm/s):
   it starts moving aside before the hands meet and drifts back after. Each frame is checked again, and one that
   is still not separated gets the rest of its push on its own.

Every two-hand frame of a sequence with a crossing goes through steps 2–3, not only the window: the two hands'
own paths are independent and may meet elsewhere too (without a crossing the renderer lets them interpenetrate).
The crossing's random draws come from their own generator stream, so the paths, poses, background and noise are
those of the same seed without it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ...tracking import joint_mean
from .hand_model import normal, uniform
from .scene import HandState, Solid, cone_axis_spheres, hand_cones

#: Generator stream of a sequence's crossing (the sequence's static content is 0x5E9, frames 1 + i).
CROSS_STREAM = 0x5EA

#: Spheres sampled along each round cone's axis for the clearance test.
_SAMPLES_PER_CONE = 12


def _smoothstep(x: float) -> float:
    x = min(max(x, 0.0), 1.0)
    return x * x * (3.0 - 2.0 * x)


def skin_spheres(h: HandState) -> tuple[np.ndarray, np.ndarray]:
    """Centres (N×3, camera mm) and radii (N) of spheres along the axes of a hand's round cones."""
    c, r = cone_axis_spheres(hand_cones(h)[0], _SAMPLES_PER_CONE)
    return c.reshape(-1, 3), r.reshape(-1)


def bounding_sphere(o: Solid) -> tuple[np.ndarray, float]:
    """A sphere that contains the solid (centre, radius): loose for long objects, which only widens the gap."""
    size = np.asarray(o.size, float)
    if o.kind == "sphere":
        r = size[0]
    elif o.kind == "capsule":
        r = size[0] + size[1]
    elif o.kind in ("cylinder", "mug"):
        r = float(np.hypot(size[0], size[1])) + (0.6 * size[0] if o.kind == "mug" else 0.0)  # + the handle
    elif o.kind == "ellipsoid":
        r = float(size.max())
    else:  # box half extents
        r = float(np.linalg.norm(size))
    return np.asarray(o.center, float), float(r)


def _pair_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distances (Na×Nb) between the rows of a and b (by |a|² + |b|² − 2ab: one matrix product)."""
    d2 = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * (a @ b.T)
    return np.sqrt(np.maximum(d2, 0.0))


def clearance_mm(ca: np.ndarray, ra: np.ndarray, cb: np.ndarray, rb: np.ndarray) -> float:
    """Smallest surface gap between two sets of spheres (negative where they overlap)."""
    return float((_pair_distances(ca, cb) - ra[:, None] - rb[None, :]).min())


def joint_mean_mm(h: HandState) -> np.ndarray:
    """The hand's centre as the tracker and the crops define it (:func:`kpfusion_ros.tracking.joint_mean`)."""
    return joint_mean(hand_cones(h)[3])


def _shifted(h: HandState, dz: float) -> HandState:
    return replace(h, t=np.asarray(h.t, float) + np.array([0.0, 0.0, dz]))


#: Image distance (mm at the pair's depth) over which the depth-order requirement fades in before two spheres'
#: images touch: a push then grows over a few frames instead of jumping.
ORDER_BAND_MM = 40.0


def order_weight(ca: np.ndarray, ra: np.ndarray, cb: np.ndarray, rb: np.ndarray) -> np.ndarray:
    """Per pair of spheres (Na×Nb): 1 where their images overlap, fading to 0 at ``ORDER_BAND_MM`` apart."""
    za, zb = np.maximum(ca[:, 2], 1.0), np.maximum(cb[:, 2], 1.0)
    pa, pb = ca[:, :2] / za[:, None], cb[:, :2] / zb[:, None]
    d_mm = _pair_distances(pa, pb) * (0.5 * (za[:, None] + zb[None, :]))
    x = np.clip((ra[:, None] + rb[None, :] + ORDER_BAND_MM - d_mm) / ORDER_BAND_MM, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def separated(ca, ra, cb, rb, order: float, margin_mm: float) -> bool:
    """No skin contact, and pairs of spheres near each other in the image in depth ``order``: at full weight
    (images overlapping) their radii and the margin apart, less as their images are further apart."""
    if clearance_mm(ca, ra, cb, rb) < margin_mm:
        return False
    wgt = order_weight(ca, ra, cb, rb)
    near = wgt > 0.0
    if not near.any():
        return True
    gap = order * (cb[None, :, 2] - ca[:, None, 2])
    need = wgt * (ra[:, None] + rb[None, :] + margin_mm)
    return bool((gap[near] >= need[near]).all())


@dataclass(frozen=True)
class Crossing:
    """A crossing's plan: when, and how deep apart (see the module docstring)."""

    t_cross: float  # s: the middle of the crossing
    ramp_s: float  # s: the pull's ramp in (and out)
    hold_s: float  # s: the pull is complete for this long around t_cross
    gap_mm: float  # depth gap asked between the two joint means
    offset_mm: np.ndarray  # lateral (x, y) offset of the second hand's joint mean at full pull

    @staticmethod
    def draw(gen, t_cross: float, ramp_s: float = 0.8, hold_s: float = 0.3) -> "Crossing":
        gap = float(uniform(gen, 60.0, 120.0))
        offset = np.clip(normal(gen, 2) * 12.0, -25.0, 25.0)
        return Crossing(float(t_cross), float(ramp_s), float(hold_s), gap, offset)

    @property
    def start(self) -> float:
        return self.t_cross - self.hold_s / 2 - self.ramp_s

    @property
    def end(self) -> float:
        return self.t_cross + self.hold_s / 2 + self.ramp_s

    def weight(self, t: float) -> float:
        """The pull's weight at time t: 0 outside [start, end], 1 on the hold, smooth in between."""
        if t <= self.t_cross:
            return _smoothstep((t - self.start) / self.ramp_s)
        return _smoothstep((self.end - t) / self.ramp_s)

    def pulled(self, t: float, first: HandState, second: HandState, order: float) -> HandState:
        w = self.weight(t)
        if w <= 0.0:
            return second
        ca, cb = joint_mean_mm(first), joint_mean_mm(second)
        target = ca + np.array([self.offset_mm[0], self.offset_mm[1], order * self.gap_mm])
        return replace(second, t=np.asarray(second.t, float) + w * (target - cb))


def _least_push(ok) -> float:
    """The least d >= 0 with ok(d) (bisection to 0.5 mm; ok is taken to be monotone in d)."""
    if ok(0.0):
        return 0.0
    hi = 50.0
    while not ok(hi):
        hi *= 2.0
        if hi > 5000.0:  # finite hands always separate; a guard against an endless loop
            raise RuntimeError("crossing: no separating depth shift found")
    lo = 0.0
    while hi - lo > 0.5:
        mid = 0.5 * (lo + hi)
        lo, hi = (lo, mid) if ok(mid) else (mid, hi)
    return hi


def rate_limited(push: np.ndarray, step: float) -> np.ndarray:
    """The least signal >= ``push`` (≥ 0) whose change per frame is at most ``step``: max_k push_k − step·|i − k|."""
    n = len(push)
    if n == 0:
        return push
    k = np.arange(n)
    return np.maximum((push[None, :] - step * np.abs(k[:, None] - k[None, :])).max(axis=1), 0.0)


class CrossingMotion:
    """Places the second hand over a whole sequence (:meth:`plan`; see the module docstring).

    A frame's push is found first on its own; then, per depth order, the pushes are spread in time so that the
    second hand's extra depth changes by at most ``max_speed_mm_s`` (it starts moving aside before the hands
    meet and drifts back after), and each frame is checked again (a frame still not separated gets the rest of
    its push on its own).
    """

    def __init__(self, crossing: Crossing | None, fps: float, margin_mm: float = 5.0,
                 max_speed_mm_s: float = 450.0):
        self.crossing, self.fps, self.margin_mm = crossing, float(fps), float(margin_mm)
        self.step_mm = float(max_speed_mm_s) / self.fps

    @staticmethod
    def _first_spheres(first: HandState, held: Solid | None):
        ca, ra = skin_spheres(first)
        if held is not None:
            oc, orad = bounding_sphere(held)
            ca, ra = np.vstack([ca, oc[None]]), np.append(ra, orad)
        return ca, ra

    def plan(self, times, firsts, seconds, helds) -> list[HandState]:
        """The second hand of every two-hand frame (all lists in time order, one entry per such frame)."""
        order: float | None = None
        carry = 0.0
        bases, orders, firsts_sph, pushes = [], [], [], []
        for t, first, second, held in zip(times, firsts, seconds, helds):
            ca, ra = self._first_spheres(first, held)
            in_window = self.crossing is not None and self.crossing.weight(t) > 0.0
            if order is None or not in_window:
                cb0, rb0 = skin_spheres(second)
                if order is None or not (order_weight(ca, ra, cb0 + [0.0, 0.0, carry], rb0) > 0).any():
                    dz = joint_mean_mm(second)[2] + carry - joint_mean_mm(first)[2]
                    order = 1.0 if dz >= 0 else -1.0
            base = second if self.crossing is None else self.crossing.pulled(t, first, second, order)
            cb, rb = skin_spheres(base)
            o = order
            push = _least_push(lambda d: separated(ca, ra, cb + np.array([0.0, 0.0, o * d]), rb, o, self.margin_mm))
            carry = o * push
            bases.append((base, cb, rb))
            orders.append(o)
            firsts_sph.append((ca, ra))
            pushes.append(carry)
        pushes = np.asarray(pushes, float)
        spread = rate_limited(np.maximum(pushes, 0.0), self.step_mm) - rate_limited(np.maximum(-pushes, 0.0),
                                                                                      self.step_mm)
        out = []
        for (base, cb, rb), o, (ca, ra), z in zip(bases, orders, firsts_sph, spread):
            extra = _least_push(lambda d: separated(ca, ra, cb + np.array([0.0, 0.0, z + o * d]), rb, o,
                                                    self.margin_mm))
            out.append(_shifted(base, z + o * extra))
        return out
