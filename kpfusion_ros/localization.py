"""Depth-only hand localisation: where to crop, without a user-drawn box.

The network crops a 250 mm cube around a 3D centre that, at training time, is the
mean of the 21 ground-truth joints (reference §3 "Crop center and size"); the
authors' demo asks the user for a box and takes the mean pixel and depth of the
box pixels in [171, 1500] mm (reference §5). This module estimates that centre by
itself from the depth image, aiming at the *hand*, not at the forearm attached to it:

1. depth as float32 millimetres (uint16 mm input is converted, float32 is not
   copied); 0, NaN, ±inf and negative values are invalid;
2. keep pixels inside the working volume ``[min_range_mm, max_range_mm]`` (depth z,
   camera frame, **millimetres**);
3. vectorised block sub-sampling by ``downsample`` (auto: about ``work_width``
   columns): each s×s block keeps its nearest in-range depth (robust to sensor holes;
   no depth mixing, so no flying pixels are invented);
4. split touching regions on depth discontinuities: a pixel whose 4-neighbour is
   nearer by more than ``discontinuity_mm`` is removed;
5. 4-connected components (``cv2.connectedComponentsWithStats``); whole components
   larger than ``max_blob_area_cm2`` or covering more than ``max_border_fraction`` of
   the image border are background (tables, walls, floors);
6. per component (sub-sampled 3D points), find the **hand end** ("tip"):

   * *arm root*: if the component lies on ≥ ``root_min_border_mm`` of image border,
     the arm enters from there; the tip is the mean of the ``tip_fraction`` points
     farthest (3D) from the root's mean, nearer ones preferred a little
     (``tip_near_weight``). If that end looks much less like a hand than the border
     end (score below, margin ``root_end_margin``) the border end is taken instead
     (a hand reaching out of view with a forearm ending in view);
   * *no root*, principal 3D extent ≤ ``single_hand_mm``: the whole component is the
     hand (no arm seen);
   * *no root*, longer: both ends of the principal 3D axis are scored on the points
     within ``hand_radius_mm`` of them: depth relief (std. of the residual to a
     plane) up, outline solidity (pixels / convex hull) down. Fingers make a ragged,
     bumpy end; a forearm is a smooth convex capsule. The better end is the tip;

7. full resolution: the hand part is the component's (1-block dilated) footprint
   within ``hand_radius_mm`` (3D) of the tip; it is validated (area in
   ``[min_area_cm2, max_area_cm2]``, extent ≤ ``max_extent_mm``, ≤
   ``max_front_border_mm`` of image border). Centre = mean of the back-projected
   points within ``centre_radius_mm`` of the tip, plus ``surface_to_center_mm`` along
   +z (the joints lie behind the visible surface). With the tip at the finger end,
   this lands about on the palm / knuckles, where the joint mean of a hand is;
8. score = hand-likeness (logistic in solidity, depth relief and area of the hand
   part, calibrated on synthetic scenes) × a mild nearness factor; candidates below
   ``min_score`` are dropped (smooth convex blobs score far below the default, rendered
   hands mostly far above) and the best ``max_hands`` are returned.

Constants (radii, surface offset, end and shape weights) were fitted on synthetic
frames of seed 11 and checked on seed 23; what the localiser achieves (recall, false
hands, centre error) is measured by ``kpfusion-bench-localizer`` and committed in
``benchmarks/localizer.json`` (docs/localizer.md explains it).

Pixel convention: pixel (row v, column u) has coordinates (u, v) with integer
centres, the OpenCV convention that the intrinsics (fx, fy, cx, cy) and
:func:`kpfusion_ros.geometry.project` use.

Honest assumptions and limits:

* Depth only, no learned model. **A hand cannot be told for sure from a hand-sized
  object**; ragged, bumpy objects score like hands and smooth convex hands (a fist
  seen from the back, fingers together seen edge-on) score low. The score ranks,
  it does not prove.
* The hand must be the *extremity* of its blob: far from where the arm enters the
  image, or the raggeder end of a free blob. A hand folded back onto the forearm, a
  hand holding an object that merges with it, or a hand resting on a body part at
  the same depth breaks this; the torso of a person can be the "far end" when the
  arm hangs down (the nearness preference helps only when the hand is in front).
* Hands must be separated in depth from what they touch by more than
  ``discontinuity_mm`` (a flat hand lying on a table, or two hands pressed together
  at the same depth, merge into one blob and are then rejected or found as one).
* The end choice of a rootless blob relies on finger detail: at the sub-sampled
  resolution (~160 columns) a hand farther than ~1.2 m has few pixels and its
  solidity / relief become noisy.
* Slanted surfaces break into strips on depth discontinuities; those are rejected by
  area, extent or border contact, not always.
* A hand cut by the image border over more than ``max_front_border_mm`` is rejected;
  a hand partly out of view gets a centre biased towards its visible part.
* The constants were calibrated on the synthetic generator (capsule hands, forearms
  ending mid-air, clean or simulated sensor noise); real sensors (more noise, missing
  finger pixels) lower the relief/solidity contrast. The pipeline re-centres every
  tracked hand on its predicted joint mean (:mod:`kpfusion_ros.tracking`), which
  corrects residual offsets of the localiser's centre.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
import cv2
import numpy as np

from kpfusion_ros.camera import CameraIntrinsics, CameraLike

__all__ = ["LocalizerConfig", "HandCandidate", "HandLocalizer", "localize_hands"]


@dataclass(frozen=True)
class LocalizerConfig:
    """Parameters of :class:`HandLocalizer`. Lengths in **millimetres**, areas in cm².

    The ROS layer converts its metre parameters at its boundary (×1000).
    """

    #: Working volume along the optical axis (camera z), mm. The demo uses [171, 1500].
    min_range_mm: float = 200.0
    max_range_mm: float = 1200.0
    #: Stride of the sub-sampling; 0 = automatic, ``round(W / work_width)`` (≥ 1).
    downsample: int = 0
    work_width: int = 160
    #: Physical area of the hand part (cm²) for a plausible hand.
    min_area_cm2: float = 30.0
    max_area_cm2: float = 600.0
    #: Largest extent (width or height, mm) of the hand part.
    max_extent_mm: float = 400.0
    #: Largest physical area of the whole component (cm²); bigger ones are background.
    max_blob_area_cm2: float = 6000.0
    #: Largest fraction of the image border pixels covered by the whole component.
    max_border_fraction: float = 0.25
    #: Longest physical length (mm) of image border the hand part may lie on; a hand
    #: whose wrist leaves the frame touches it over ~70 mm, a plane corner over far more.
    max_front_border_mm: float = 120.0
    #: Neighbouring (sub-sampled) pixels whose depth differs more are not connected.
    discontinuity_mm: float = 25.0
    #: Shift of the centre along +z from the visible-surface centroid (mm): the joints
    #: lie inside the hand, behind its visible surface (median 17 mm on synthetic hands).
    surface_to_center_mm: float = 17.0
    #: Arm root: a component lying on at least this much image border (mm) enters from it.
    root_min_border_mm: float = 20.0
    #: Extremity ("tip"): mean of this fraction of the component's points, the farthest
    #: from the root (score: 3D distance − ``tip_near_weight`` × (z − nearest z)).
    tip_fraction: float = 0.02
    tip_near_weight: float = 0.5
    #: A component with no root whose principal extent is at most this (mm) is one hand
    #: (no arm seen): its whole surface is the hand part.
    single_hand_mm: float = 200.0
    #: Hand part: points within ``hand_radius_mm`` (3D) of the tip (validation, score,
    #: choice of the end); centre: mean of those within ``centre_radius_mm`` of the tip.
    hand_radius_mm: float = 150.0
    centre_radius_mm: float = 110.0
    #: Widest "neck" (mm): the rest of the blob within ``neck_shell_mm`` beyond the hand
    #: part must be narrower (an arm, ~60–90 mm), else the extremity is not a hand.
    max_neck_mm: float = 180.0
    neck_shell_mm: float = 25.0
    #: Which end of a rootless elongated component is the hand: the higher
    #: ``end_roughness_weight`` × depth relief (mm) − ``end_solidity_weight`` × outline
    #: solidity of its hand part (fingers: ragged outline, relief; forearm: convex, smooth).
    end_solidity_weight: float = 20.0
    end_roughness_weight: float = 0.45
    #: A component entering from the border takes its border end as the hand when that
    #: end's score beats the far end's by this margin (inf: never).
    root_end_margin: float = 3.0
    #: Hand-likeness (logistic; calibrated on synthetic scenes, seed 11) of the hand part:
    #: bias − w_s·solidity − w_a·ln(area / shape_area_cm2)² + w_r·min(relief mm, 30).
    shape_bias: float = 11.7
    shape_solidity_weight: float = 15.3
    shape_area_weight: float = 4.0
    shape_area_cm2: float = 70.0
    shape_relief_weight: float = 0.126
    #: Candidates scoring lower are dropped (0: rank only; see docs/localizer.md for the
    #: recall / false-positive trade-off). The node's ``min_hand_score`` parameter sets it.
    min_score: float = 0.1
    #: Components with fewer sub-sampled pixels are ignored outright (noise).
    min_pixels: int = 6
    #: At most this many candidates are returned, best score first.
    max_hands: int = 2

    def __post_init__(self) -> None:
        if not (0.0 <= self.min_range_mm < self.max_range_mm):
            raise ValueError("need 0 <= min_range_mm < max_range_mm (millimetres)")
        if self.downsample < 0 or self.work_width < 1:
            raise ValueError("downsample must be >= 0 (0 = auto) and work_width >= 1")
        if not (0.0 < self.min_area_cm2 <= self.max_area_cm2):
            raise ValueError("need 0 < min_area_cm2 <= max_area_cm2")
        if self.discontinuity_mm <= 0:
            raise ValueError("discontinuity_mm must be > 0")
        if not (0.0 < self.centre_radius_mm and 0.0 < self.hand_radius_mm):
            raise ValueError("centre_radius_mm and hand_radius_mm must be > 0")
        if not (0.0 < self.tip_fraction < 0.5):
            raise ValueError("tip_fraction must be in (0, 0.5)")
        if self.max_hands < 0:
            raise ValueError("max_hands must be >= 0")


@dataclass
class HandCandidate:
    """One localised hand candidate (full-resolution pixels, camera frame mm)."""

    #: 3D crop centre, camera frame (x right, y down, z forward), mm, shape (3,).
    centre_mm: np.ndarray
    #: Bounding box of the front part in full-resolution pixels: (x, y, w, h).
    bbox: tuple[int, int, int, int]
    #: Full-resolution pixels of the front part used for the centre.
    pixel_count: int
    #: Mean depth of those pixels, mm.
    mean_depth_mm: float
    #: Ranking score in (0, 1]; higher is better.
    score: float
    #: Physical area of the front part, cm².
    area_cm2: float = 0.0


def _to_mm(depth) -> np.ndarray:
    """Depth as H×W float32 mm **without copying** float32 input; invalid values are left in place.

    Every later use ignores invalid values by comparison: the block minimum maps
    everything below ``min_range_mm`` (0, negative, −inf) and NaN to +inf, and the
    full-resolution footprint keeps only depths inside a finite range.
    """
    d = np.asarray(depth)
    if d.ndim != 2:
        raise ValueError(f"depth must be H×W, got shape {d.shape}")
    return d if d.dtype == np.float32 else d.astype(np.float32)


def _block_min(d: np.ndarray, s: int, lo: float, hi: float) -> np.ndarray:
    """Nearest in-range depth of each s×s block: (H//s)×(W//s) float32, +inf where none.

    In range = ``lo <= d <= hi`` (mm); NaN, ±inf and values below ``lo`` never count.
    Vectorised with full-frame passes that run at memory speed (an OpenCV threshold
    and add map out-of-range values to +inf, then a min over rows of blocks and one
    over strided column views); ``np.where`` with a scalar and a min over a short
    innermost axis were many times slower.
    """
    H, W = d.shape
    h, w = H // s, W // s
    blk = d[: h * s, : w * s]
    below = float(np.nextafter(np.float32(lo), np.float32(-np.inf)))  # d <= below  <=>  d < lo
    # +inf where d < lo (incl. -inf) or NaN, 0 elsewhere; d + that: +inf, NaN (-inf + inf, NaN) or d
    _, pad = cv2.threshold(blk, below, np.inf, cv2.THRESH_BINARY_INV)
    x = cv2.add(blk, pad)
    cv2.patchNaNs(x, np.inf)
    rows = x.reshape(h, s, w * s).min(axis=1)  # h × (w·s): min over the s rows of each block
    z = np.minimum.reduce([rows[:, j::s] for j in range(s)]) if s > 1 else rows
    z[z > hi] = np.inf  # a block whose nearest value is beyond the range has no in-range value
    return np.ascontiguousarray(z)


def _solidity_roughness(P: np.ndarray, uv: np.ndarray) -> tuple[float, float]:
    """Outline solidity (pixels / convex-hull area, ≤ ~1) and depth relief (mm) of a point set.

    ``P``: N×3 points (mm), ``uv``: their N×2 integer pixel coordinates (one grid).
    Relief = standard deviation of the depth residual to the least-squares plane.
    """
    if len(P) < 4:
        return 1.0, 0.0
    hull = cv2.convexHull(uv.astype(np.int32).reshape(-1, 1, 2))
    # Area of the union of the hull's pixels (centres hull + half a pixel around).
    hull_px = cv2.contourArea(hull) + 0.5 * cv2.arcLength(hull, True) + 1.0
    sol = min(1.0, len(P) / hull_px)
    A = np.c_[P[:, 0], P[:, 1], np.ones(len(P))]
    coef, *_ = np.linalg.lstsq(A, P[:, 2], rcond=None)
    return float(sol), float(np.std(P[:, 2] - A @ coef))


class HandLocalizer:
    """Find up to ``max_hands`` hand candidates in a depth image (see module docstring)."""

    def __init__(self, config: LocalizerConfig | None = None) -> None:
        self.config = config or LocalizerConfig()

    def stride_for(self, width: int) -> int:
        c = self.config
        return c.downsample if c.downsample > 0 else max(1, int(round(width / c.work_width)))

    def localize(self, depth, intrinsics: CameraLike) -> list[HandCandidate]:
        """Candidates sorted by decreasing score.

        ``depth``: H×W float (mm, 0/NaN invalid) or uint16 (mm). ``intrinsics``: that
        image's camera (:class:`~kpfusion_ros.camera.CameraIntrinsics`, (fx, fy, cx, cy) or a 3×3 K).
        """
        c = self.config
        if c.max_hands == 0:
            return []
        fx, fy, cx, cy = CameraIntrinsics.of(intrinsics).as_tuple()
        d = _to_mm(depth)
        H, W = d.shape
        s = self.stride_for(W)
        h, w = H // s, W // s
        if h < 2 or w < 2:
            return []
        # Nearest in-range depth of each s×s block (robust to holes, invents no depth).
        z = _block_min(d, s, c.min_range_mm, c.max_range_mm)
        valid = np.isfinite(z)
        if not valid.any():
            return []
        lo = np.where(valid, z, 0.0)

        # Depth discontinuities: drop pixels with a 4-neighbour nearer by > threshold
        # (inf - x = inf and inf - inf = nan: an invalid pixel is never "nearer").
        far = np.zeros_like(valid)
        thr = c.discontinuity_mm
        with np.errstate(invalid="ignore"):
            dz = z[:, 1:] - z[:, :-1]
            far[:, 1:] |= dz > thr
            far[:, :-1] |= -dz > thr
            dz = z[1:, :] - z[:-1, :]
            far[1:, :] |= dz > thr
            far[:-1, :] |= -dz > thr
        mask = valid & ~far

        n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=4)
        if n <= 1:
            return []
        lab = labels.ravel()
        sel = lab > 0
        lab_v = lab[sel]
        z_v = lo.ravel()[sel].astype(np.float64)
        counts = np.bincount(lab_v, minlength=n)

        # Physical area per sub-sampled pixel: (s·z/fx)(s·z/fy) mm² → cm².
        pix_area = (s * s / (fx * fy)) * z_v * z_v / 100.0
        blob_area = np.bincount(lab_v, weights=pix_area, minlength=n)

        # Border coverage of whole components.
        border = np.concatenate([labels[0, :], labels[-1, :], labels[1:-1, 0], labels[1:-1, -1]])
        border_frac = np.bincount(border, minlength=n) / float(border.size)

        keep = (
            (counts >= c.min_pixels)
            & (blob_area <= c.max_blob_area_cm2)
            & (border_frac <= c.max_border_fraction)
            & (blob_area >= c.min_area_cm2)
        )
        keep[0] = False
        if not keep.any():
            return []
        # Sub-sampled pixel centres in full-resolution pixel coordinates.
        us = np.arange(w) * s + 0.5 * (s - 1)
        vs = np.arange(h) * s + 0.5 * (s - 1)
        cam = (fx, fy, cx, cy)
        cands: list[HandCandidate] = []
        for k in np.flatnonzero(keep):
            cand = self._blob(d, labels, lo, int(k), stats[k], s, us, vs, cam)
            if cand is not None:
                cands.append(cand)
        cands = [cd for cd in cands if cd.score >= c.min_score]
        cands.sort(key=lambda cd: -cd.score)
        return cands[: c.max_hands]

    # ------------------------------------------------------------------ helpers
    def _end_score(self, P, uv, e) -> float:
        """How much the points within ``hand_radius_mm`` of ``e`` look like a hand (relief, raggedness)."""
        c = self.config
        r = np.linalg.norm(P - e, axis=1) <= c.hand_radius_mm
        sol, rough = _solidity_roughness(P[r], uv[r])
        return c.end_roughness_weight * rough - c.end_solidity_weight * sol

    def _hand_end(self, P, uv, on_border, s, f):
        """Sub-sampled 3D points of one blob → (tip (3,) or None, root (3,) or None, arm evidence).

        ``tip`` None means "the whole blob is the hand" (short blob, no arm seen).
        """
        c = self.config
        z = P[:, 2]
        zmin = float(z.min())
        border_mm = float(np.sum(z[on_border]) * s / f)
        if border_mm >= c.root_min_border_mm:
            # The arm enters from the image border: the hand is the extremity far from it.
            root = P[on_border].mean(axis=0)
            key = np.linalg.norm(P - root, axis=1) - c.tip_near_weight * (z - zmin)
            thr = np.quantile(key, 1.0 - c.tip_fraction)
            tip = P[key >= thr].mean(axis=0)
            length = float(np.linalg.norm(tip - root))
            if length > c.single_hand_mm and c.root_end_margin < math.inf:
                # A hand reaching out of view with the forearm ending in view (its
                # fingers on the border): the root end looks far more like a hand.
                sc = [self._end_score(P, uv, e) for e in (tip, root)]
                if sc[1] > sc[0] + c.root_end_margin:
                    return root, tip, length
            return tip, root, length
        mu = P.mean(axis=0)
        Q = P - mu
        evals, evecs = np.linalg.eigh(Q.T @ Q / max(len(P), 1))
        a = evecs[:, -1]
        t = Q @ a
        t_lo, t_hi = np.quantile(t, [c.tip_fraction, 1.0 - c.tip_fraction])
        if t_hi - t_lo <= c.single_hand_mm:
            return None, None, float(t_hi - t_lo)
        ends = (P[t <= t_lo].mean(axis=0), P[t >= t_hi].mean(axis=0))
        scores = [self._end_score(P, uv, e) for e in ends]
        i = int(np.argmax(scores))
        tip, root = ends[i], ends[1 - i]
        return tip, root, float(np.linalg.norm(tip - root))

    def _blob(self, d, labels, lo, k, stat, s, us, vs, cam) -> HandCandidate | None:
        """Hand part of component ``k`` (sub-sampled analysis, full-resolution centroid)."""
        c = self.config
        fx, fy, cx, cy = cam
        f = math.sqrt(fx * fy)
        H, W = d.shape
        h, w = labels.shape
        x0, y0, bw, bh = (int(v) for v in stat[:4])
        own = labels[y0 : y0 + bh, x0 : x0 + bw] == k
        vv, uu = np.nonzero(own)
        vv = vv + y0
        uu = uu + x0
        zs = lo[vv, uu].astype(np.float64)
        P = np.stack([(us[uu] - cx) * zs / fx, (vs[vv] - cy) * zs / fy, zs], axis=1)
        on_border = (vv == 0) | (vv == h - 1) | (uu == 0) | (uu == w - 1)
        tip, root, length = self._hand_end(P, np.stack([uu, vv], axis=1), on_border, s, f)
        if tip is not None:
            dist = np.linalg.norm(P - tip, axis=1)
            in_hand = dist <= c.hand_radius_mm
            # The "neck" where the hand part joins the rest of the blob must be arm-wide:
            # a table, wall or torso continues on a wide front.
            shell = (dist > c.hand_radius_mm) & (dist <= c.hand_radius_mm + c.neck_shell_mm)
            if shell.sum() >= 3:
                Q = P[shell] - P[shell].mean(axis=0)
                ax = np.linalg.eigh(Q.T @ Q)[1][:, -1]
                proj = Q @ ax
                if float(proj.max() - proj.min()) > c.max_neck_mm:
                    return None
        else:
            in_hand = np.ones(len(P), bool)
        if not in_hand.any():
            return None
        z_lo = max(c.min_range_mm, float(zs[in_hand].min()) - c.discontinuity_mm)
        z_hi = min(c.max_range_mm, float(zs[in_hand].max()) + c.discontinuity_mm)
        hv0, hv1 = int(vv[in_hand].min()), int(vv[in_hand].max())
        hu0, hu1 = int(uu[in_hand].min()), int(uu[in_hand].max())

        # Full resolution: the (1-block dilated) footprint of the hand part, same depth range.
        ys0, ys1 = max(0, hv0 - 1), min(h, hv1 + 2)
        xs0, xs1 = max(0, hu0 - 1), min(w, hu1 + 2)
        sub = labels[ys0:ys1, xs0:xs1]
        hand_sub = np.zeros(sub.shape, np.uint8)
        hand_sub[vv[in_hand] - ys0, uu[in_hand] - xs0] = 1
        foot = (cv2.dilate(hand_sub, np.ones((3, 3), np.uint8)) > 0) & ((sub == k) | (sub == 0))
        Y0, Y1, X0, X1 = ys0 * s, ys1 * s, xs0 * s, xs1 * s
        if ys1 == h:
            Y1 = H
        if xs1 == w:
            X1 = W
        rows = np.minimum((np.arange(Y0, Y1) // s), h - 1) - ys0
        cols = np.minimum((np.arange(X0, X1) // s), w - 1) - xs0
        foot_full = foot[rows[:, None], cols[None, :]]
        zz = d[Y0:Y1, X0:X1].astype(np.float64)
        m = foot_full & (zz >= z_lo) & (zz <= z_hi)
        fv, fu = np.nonzero(m)
        if fv.size == 0:
            return None
        zv = zz[fv, fu]
        fu = fu + X0
        fv = fv + Y0
        x = (fu - cx) * zv / fx
        y = (fv - cy) * zv / fy
        if tip is not None:
            d2 = (x - tip[0]) ** 2 + (y - tip[1]) ** 2 + (zv - tip[2]) ** 2
            r = d2 <= c.hand_radius_mm**2
            if not r.any():
                return None
            x, y, zv, fu, fv, d2 = x[r], y[r], zv[r], fu[r], fv[r], d2[r]
        area = float(np.sum(zv * zv) / (fx * fy) / 100.0)
        ext = max(float(x.max() - x.min()), float(y.max() - y.min()))
        if ext > c.max_extent_mm or not (c.min_area_cm2 <= area <= c.max_area_cm2):
            return None
        # Physical length of image border the hand part lies on: a surface that gets
        # nearer towards (and beyond) the image edge is not a hand in view.
        on_edge = (fu == 0) | (fu == W - 1) | (fv == 0) | (fv == H - 1)
        if on_edge.any():
            edge_mm = float(np.sum(zv[on_edge]) / f)
            if edge_mm > c.max_front_border_mm:
                return None
        core = np.ones(zv.shape, bool) if tip is None else d2 <= c.centre_radius_mm**2
        if not core.any():
            core[:] = True
        centre = np.array([x[core].mean(), y[core].mean(), zv[core].mean() + c.surface_to_center_mm])
        bbox = (int(fu.min()), int(fv.min()), int(fu.max() - fu.min() + 1), int(fv.max() - fv.min() + 1))
        near = 1.0 - 0.5 * (zv.mean() - c.min_range_mm) / (c.max_range_mm - c.min_range_mm)
        sol, rough = _solidity_roughness(P[in_hand], np.stack([uu, vv], axis=1)[in_hand])
        # Hand-likeness (logistic, calibrated on synthetic scenes): ragged outline (fingers),
        # depth relief, hand-like area.
        logit = (c.shape_bias - c.shape_solidity_weight * sol
                 - c.shape_area_weight * math.log(area / c.shape_area_cm2) ** 2
                 + c.shape_relief_weight * min(rough, 30.0))
        handlike = 1.0 / (1.0 + math.exp(-logit))
        score = float(handlike * (0.75 + 0.25 * min(1.0, max(0.0, near))))
        cand = HandCandidate(
            centre_mm=centre,
            bbox=bbox,
            pixel_count=int(zv.size),
            mean_depth_mm=float(zv.mean()),
            score=score,
            area_cm2=area,
        )
        return cand


def localize_hands(depth, intrinsics: CameraLike, config: LocalizerConfig | None = None) -> list[HandCandidate]:
    """Functional form of :meth:`HandLocalizer.localize`."""
    return HandLocalizer(config).localize(depth, intrinsics)
