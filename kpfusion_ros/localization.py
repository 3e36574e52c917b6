"""Depth-only hand localisation: where to crop, without a user-drawn box.

The network crops a 250 mm cube around a 3D centre that, at training time, is the
mean of the 21 ground-truth joints (reference §3 "Crop center and size"); the
authors' demo asks the user for a box and takes the mean pixel and depth of the
box pixels in [171, 1500] mm (reference §5). This module estimates that centre by
itself from the depth image, in two stages:

* **stage 1, proposals** (geometric, :meth:`HandLocalizer.proposals`): the hand end of every
  depth blob (below, with no gate rejecting it) and every local depth minimum within
  ``minima_radius_mm`` (:meth:`HandLocalizer.depth_minima`: a hand held in front of the scene, a
  hand merged with what it holds), at most ``max_proposals``;
* **stage 2, the hand verifier** (:meth:`HandLocalizer.verify`, :mod:`kpfusion_ros.detection`): a
  tiny CNN trained on synthetic frames looks at a 300 mm metric depth patch around every proposal
  (one batched forward pass) and gives p(hand), p(right hand) and the offset from the proposal to
  the hand's joint mean; the best ``verifier_rechecks`` proposals, moved by their offset, are
  looked at again (a second pass), near-duplicates are suppressed (``nms_mm``). Score = p(hand),
  centre = proposal + offsets; ``min_score`` and ``max_hands`` apply.

Without the verifier (``verifier_path="none"``, or the shipped weights missing: a warning says so)
the localiser is the geometric stage alone, its gates on, scored by the hand-likeness below.
The geometric stage finds, per blob, the *hand* end, not the forearm attached to it:

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

import logging
import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from kpfusion_ros.camera import CameraIntrinsics, CameraLike

__all__ = ["LocalizerConfig", "HandCandidate", "HandLocalizer", "localize_hands", "NO_VERIFIER"]

log = logging.getLogger(__name__)

#: ``LocalizerConfig.verifier_path`` value for the geometric localiser alone (no learned verifier).
NO_VERIFIER = "none"
#: Radii (sub-sampled pixels) of the min filters of :meth:`HandLocalizer.depth_minima`; each pixel
#: uses the smallest one at least as large as ``minima_radius_mm`` at its depth.
_MINIMA_RADII_PX = (2, 3, 4, 6, 8, 11, 15, 20)


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
    #: Candidates whose verifier p(hand) is lower are dropped (chosen on synthetic validation frames;
    #: the trade-off: docs/real_frames.md). The node's ``min_hand_score`` parameter sets it.
    min_score: float = 0.1
    #: The same threshold on the geometric hand-likeness, used instead when there is no verifier
    #: (its scale differs: smooth blobs ~0.02, rendered hands 0.2–0.9; docs/localizer.md).
    geometric_min_score: float = 0.1
    #: Components with fewer sub-sampled pixels are ignored outright (noise).
    min_pixels: int = 6
    #: At most this many candidates are returned, best score first.
    max_hands: int = 2

    # --- the learned verifier (stage 2) and its proposals (stage 1) ---------------------------
    #: Weights of the hand verifier (:mod:`kpfusion_ros.detection.verifier`): "" = the shipped
    #: ``models/hand_verifier.pt``, "none" = no verifier (the geometric score alone, the gates on).
    verifier_path: str = ""
    #: Stage 1: at most this many proposals per frame go to the verifier.
    max_proposals: int = 24
    #: Proposals closer than this (mm) to an earlier one are the same proposal.
    proposal_merge_mm: float = 30.0
    #: Local depth minima: nearer than everything within this radius (mm) at their depth.
    minima_radius_mm: float = 70.0
    #: Smallest blob (cm²) whose extremity is a proposal.
    min_proposal_area_cm2: float = 5.0
    #: Stage 2: the best this many (after suppression) are verified again at their moved centre.
    verifier_rechecks: int = 6
    #: Candidates within this distance (mm) of a better-scoring one are suppressed.
    nms_mm: float = 70.0
    #: Longest centre correction (mm) taken from one verifier pass.
    max_offset_mm: float = 150.0
    #: Edge (mm) of the square around a verified centre whose projection is the candidate's bbox.
    bbox_mm: float = 200.0

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
        if self.max_proposals < 1 or self.verifier_rechecks < 0:
            raise ValueError("need max_proposals >= 1 and verifier_rechecks >= 0")
        if not (self.minima_radius_mm > 0 and self.nms_mm > 0 and self.proposal_merge_mm >= 0):
            raise ValueError("need minima_radius_mm > 0, nms_mm > 0 and proposal_merge_mm >= 0")


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
    #: Score in [0, 1]; higher is better: the verifier's p(hand), or the geometric hand-likeness
    #: when there is no verifier.
    score: float
    #: Physical area of the front part, cm².
    area_cm2: float = 0.0
    #: The verifier's p(right hand) and its logit (0.5 / 0.0: no estimate, e.g. no verifier).
    p_right: float = 0.5
    right_logit: float = 0.0
    #: Geometric hand-likeness of the proposal it came from (= ``score`` without a verifier).
    geometric_score: float = 0.0
    #: Which proposal it came from: "extremity" (a blob's hand end) or "minimum" (a local depth minimum).
    source: str = "extremity"


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
    """Find up to ``max_hands`` hands in a depth image (see the module docstring).

    ``verifier``: a :class:`~kpfusion_ros.detection.verifier.HandVerifier` to use instead of the one
    of ``config.verifier_path`` (tests, training). With no verifier (``verifier_path="none"``, or the
    shipped file missing: :attr:`verifier_warning` says so) the localiser is the geometric one alone.
    """

    def __init__(self, config: LocalizerConfig | None = None, verifier=None) -> None:
        self.config = config or LocalizerConfig()
        self.verifier_warning: str | None = None
        self.verifier_description = "none (geometric score)"
        if verifier is not None:
            self.verifier = verifier.eval()
            self.verifier_description = "verifier given in code"
        else:
            self.verifier, self.verifier_description, self.verifier_warning = _load_verifier(self.config.verifier_path)
            if self.verifier_warning:
                log.warning(self.verifier_warning)

    def stride_for(self, width: int) -> int:
        c = self.config
        return c.downsample if c.downsample > 0 else max(1, int(round(width / c.work_width)))

    def localize(self, depth, intrinsics: CameraLike) -> list[HandCandidate]:
        """Hands, by decreasing score (at most ``max_hands``, score ≥ ``min_score``).

        ``depth``: H×W float (mm, 0/NaN invalid) or uint16 (mm). ``intrinsics``: that
        image's camera (:class:`~kpfusion_ros.camera.CameraIntrinsics`, (fx, fy, cx, cy) or a 3×3 K).
        """
        c = self.config
        if c.max_hands == 0:
            return []
        cam = CameraIntrinsics.of(intrinsics)
        d = _to_mm(depth)
        if self.verifier is None:
            cands = [cd for cd in self.geometric_candidates(d, cam, gated=True) if cd.score >= c.geometric_min_score]
            cands.sort(key=lambda cd: -cd.score)
            return cands[: c.max_hands]
        cands = self.verify(d, cam, self.proposals(d, cam))
        return [cd for cd in cands if cd.score >= c.min_score][: c.max_hands]

    # ------------------------------------------------------------------ stage 1: proposals
    def proposals(self, depth, intrinsics: CameraLike) -> list[HandCandidate]:
        """Stage 1 (geometric, no threshold): every blob extremity (ungated :meth:`geometric_candidates`) and
        every local depth minimum (:meth:`depth_minima`), merged within ``proposal_merge_mm``, at most
        ``max_proposals`` (extremities first, by score; then minima, nearest first). Score = geometric."""
        c = self.config
        cam = CameraIntrinsics.of(intrinsics)
        d = _to_mm(depth)
        tips = sorted(self.geometric_candidates(d, cam, gated=False), key=lambda cd: -cd.score)
        minima = self.depth_minima(d, cam)
        out: list[HandCandidate] = []
        for cd in tips + minima:
            if len(out) >= c.max_proposals:
                break
            if all(np.linalg.norm(cd.centre_mm - o.centre_mm) > c.proposal_merge_mm for o in out):
                out.append(cd)
        return out

    def _subsampled(self, d: np.ndarray, fx: float):
        """(stride s, sub-sampled nearest in-range depth z (inf = none)) of a depth frame, or None if too small."""
        c = self.config
        H, W = d.shape
        s = self.stride_for(W)
        if H // s < 2 or W // s < 2:
            return None
        return s, _block_min(d, s, c.min_range_mm, c.max_range_mm)

    def depth_minima(self, depth, intrinsics: CameraLike) -> list[HandCandidate]:
        """Local depth minima: sub-sampled pixels nearer than everything within ``minima_radius_mm``
        (metric, at their depth) of them, one per plateau; centre = mean of the 3D points within that
        radius + ``surface_to_center_mm`` along z. Nearest first. A hand held in front of a scene,
        a fist or a hand merged with what it holds is a local minimum even when it is no blob's extremity."""
        c = self.config
        fx, fy, cx, cy = CameraIntrinsics.of(intrinsics).as_tuple()
        d = _to_mm(depth)
        sub = self._subsampled(d, fx)
        if sub is None:
            return []
        s, z = sub
        valid = np.isfinite(z)
        if not valid.any():
            return []
        big = np.float32(1e9)
        zz = np.where(valid, z, big).astype(np.float32)
        f = math.sqrt(fx * fy) / s
        want = c.minima_radius_mm * f / np.where(valid, zz, big)
        radii = np.array(_MINIMA_RADII_PX)
        idx = np.clip(np.searchsorted(radii, want), 0, len(radii) - 1)
        m = np.full(zz.shape, big, np.float32)
        for i in np.unique(idx[valid]):
            r = int(radii[i])
            er = cv2.erode(zz, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1)),
                           borderType=cv2.BORDER_CONSTANT, borderValue=float(big))
            sel = idx == i
            m[sel] = er[sel]
        lm = valid & (zz <= m)
        n, lab = cv2.connectedComponents(lm.astype(np.uint8), connectivity=8)
        if n <= 1:
            return []
        vv, uu = np.nonzero(lab)
        lv = lab[vv, uu]
        order = np.lexsort((zz[vv, uu], lv))  # by label, then depth
        first = order[np.r_[True, lv[order][1:] != lv[order][:-1]]]  # nearest pixel of each plateau
        h, w = z.shape
        us = np.arange(w) * s + 0.5 * (s - 1)
        vs = np.arange(h) * s + 0.5 * (s - 1)
        sz = zz[vv[first], uu[first]].astype(np.float64)
        seeds = np.stack([(us[uu[first]] - cx) * sz / fx, (vs[vv[first]] - cy) * sz / fy, sz], axis=1)
        seeds = seeds[np.argsort(sz)][: c.max_proposals]
        pv, pu = np.nonzero(valid)
        pz = z[pv, pu].astype(np.float64)
        P = np.stack([(us[pu] - cx) * pz / fx, (vs[pv] - cy) * pz / fy, pz], axis=1)
        out = []
        for seed in seeds:  # a few seeds per frame; each a vectorised pass over the sub-sampled points
            near = np.sum((P - seed) ** 2, axis=1) <= c.minima_radius_mm ** 2
            q = P[near]
            centre = q.mean(axis=0) + np.array([0.0, 0.0, c.surface_to_center_mm])
            u = (q[:, 0] * fx / q[:, 2] + cx)
            v = (q[:, 1] * fy / q[:, 2] + cy)
            bbox = (int(u.min()), int(v.min()), int(u.max() - u.min() + 1), int(v.max() - v.min() + 1))
            area = float(np.sum(q[:, 2] ** 2) * s * s / (fx * fy) / 100.0)
            out.append(HandCandidate(centre_mm=centre, bbox=bbox, pixel_count=int(near.sum()) * s * s,
                                     mean_depth_mm=float(q[:, 2].mean()), score=0.0, area_cm2=area,
                                     source="minimum"))
        return out

    def geometric_candidates(self, depth, intrinsics: CameraLike, gated: bool = True) -> list[HandCandidate]:
        """The geometric stage: the hand end of every depth blob (module docstring, steps 1–8), scored,
        unsorted, no ``min_score``. ``gated`` False: no test rejects a blob or its hand part for its
        size, border contact or neck (proposals for the verifier)."""
        c = self.config
        fx, fy, cx, cy = CameraIntrinsics.of(intrinsics).as_tuple()
        d = _to_mm(depth)
        sub = self._subsampled(d, fx)
        if sub is None:
            return []
        s, z = sub
        h, w = z.shape
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

        keep = (counts >= c.min_pixels) & (blob_area >= (c.min_area_cm2 if gated else c.min_proposal_area_cm2))
        if gated:
            keep &= (blob_area <= c.max_blob_area_cm2) & (border_frac <= c.max_border_fraction)
        keep[0] = False
        if not keep.any():
            return []
        # Sub-sampled pixel centres in full-resolution pixel coordinates.
        us = np.arange(w) * s + 0.5 * (s - 1)
        vs = np.arange(h) * s + 0.5 * (s - 1)
        cam = (fx, fy, cx, cy)
        cands: list[HandCandidate] = []
        for k in np.flatnonzero(keep):
            cand = self._blob(d, labels, lo, int(k), stats[k], s, us, vs, cam, gated=gated)
            if cand is not None:
                cands.append(cand)
        return cands

    # ------------------------------------------------------------------ stage 2: the verifier
    def verify(self, depth, intrinsics: CameraLike, proposals: list[HandCandidate]) -> list[HandCandidate]:
        """Stage 2: the verifier on every proposal (one batched forward pass), each moved by its predicted
        offset; the best ``verifier_rechecks`` (after suppressing those within ``nms_mm`` of a better
        one) are looked at again, centred where the first pass put them (a second forward pass), and
        take that pass's score, side and offset. Returns candidates sorted by score, none within
        ``nms_mm`` of a better one, no ``min_score`` or ``max_hands`` applied."""
        from kpfusion_ros.detection.patches import depth_pyramid

        c = self.config
        if not proposals:
            return []
        cam = CameraIntrinsics.of(intrinsics)
        pyr = depth_pyramid(depth, 1.0, 10000.0)
        centres = np.stack([p.centre_mm for p in proposals]).astype(np.float64)
        out = self._run_verifier(depth, cam, centres, pyr)
        moved = centres + _clip_norm(out.offset_mm.double().numpy(), c.max_offset_mm)
        p1 = out.p_hand.double().numpy()
        keep = _nms(moved, p1, c.nms_mm)[: max(0, c.verifier_rechecks)]
        if keep:
            out2 = self._run_verifier(depth, cam, moved[keep], pyr)
            final = moved[keep] + _clip_norm(out2.offset_mm.double().numpy(), c.max_offset_mm)
            rows = [(proposals[i], final[j], out2, j) for j, i in enumerate(keep)]
        else:
            rows = [(proposals[i], moved[i], out, i) for i in range(len(proposals))]
        score = np.array([float(o.p_hand[j]) for _, _, o, j in rows])
        fin = np.stack([f for _, f, _, _ in rows])
        result = []
        for j in _nms(fin, score, c.nms_mm):
            prop, centre, o, k = rows[j]
            result.append(HandCandidate(
                centre_mm=centre, bbox=_bbox_around(centre, cam, depth.shape, c.bbox_mm),
                pixel_count=prop.pixel_count, mean_depth_mm=prop.mean_depth_mm, score=float(o.p_hand[k]),
                area_cm2=prop.area_cm2, p_right=float(o.p_right[k]), right_logit=float(o.right_logit[k]),
                geometric_score=prop.score, source=prop.source))
        return result

    def score_at(self, depth, intrinsics: CameraLike, centres_mm) -> np.ndarray | None:
        """The verifier's p(hand) at the given 3D centres (K×3 mm), exactly where they are (no offset, no
        second look), in one batched pass; None without a verifier. The pipeline asks it at the joint mean
        of each estimated pose (the centre the verifier's positives were cut around)."""
        if self.verifier is None:
            return None
        c = np.asarray(centres_mm, dtype=np.float64).reshape(-1, 3)
        if not len(c):
            return np.zeros(0)
        from kpfusion_ros.detection.patches import depth_pyramid

        d = _to_mm(depth)
        out = self._run_verifier(d, CameraIntrinsics.of(intrinsics), c, depth_pyramid(d, 1.0, 10000.0))
        return out.p_hand.double().numpy()

    def _run_verifier(self, depth, cam: CameraIntrinsics, centres: np.ndarray, pyramid):
        from kpfusion_ros.detection.patches import verifier_patches

        return self.verifier.predict(verifier_patches(depth, cam, centres, self.verifier.spec, pyramid=pyramid))

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

    def _blob(self, d, labels, lo, k, stat, s, us, vs, cam, gated: bool = True) -> HandCandidate | None:
        """Hand part of component ``k`` (sub-sampled analysis, full-resolution centroid).

        ``gated`` False (proposals for the verifier): the neck, area, extent and border tests do not
        reject the candidate; it is still scored.
        """
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
                if gated and float(proj.max() - proj.min()) > c.max_neck_mm:
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
        if gated and (ext > c.max_extent_mm or not (c.min_area_cm2 <= area <= c.max_area_cm2)):
            return None
        # Physical length of image border the hand part lies on: a surface that gets
        # nearer towards (and beyond) the image edge is not a hand in view.
        on_edge = (fu == 0) | (fu == W - 1) | (fv == 0) | (fv == H - 1)
        if on_edge.any():
            edge_mm = float(np.sum(zv[on_edge]) / f)
            if gated and edge_mm > c.max_front_border_mm:
                return None
        core = np.ones(zv.shape, bool) if tip is None else d2 <= c.centre_radius_mm**2
        if not core.any():
            core[:] = True
        centre = np.array([x[core].mean(), y[core].mean(), zv[core].mean() + c.surface_to_center_mm])
        bbox = (int(fu.min()), int(fv.min()), int(fu.max() - fu.min() + 1), int(fv.max() - fv.min() + 1))
        near = 1.0 - 0.5 * (zv.mean() - c.min_range_mm) / (c.max_range_mm - c.min_range_mm)
        if area <= 0.0:
            return None
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


def _clip_norm(v: np.ndarray, max_norm: float) -> np.ndarray:
    """Rows of ``v`` (K×3) scaled down to at most ``max_norm``."""
    n = np.linalg.norm(v, axis=1, keepdims=True)
    return v * np.minimum(1.0, max_norm / np.maximum(n, 1e-9))


def _nms(centres: np.ndarray, scores: np.ndarray, radius: float) -> list[int]:
    """Indices by decreasing score, dropping any within ``radius`` (3D) of a kept better one."""
    kept: list[int] = []
    for i in np.argsort(-scores, kind="stable"):
        if all(np.linalg.norm(centres[i] - centres[j]) > radius for j in kept):
            kept.append(int(i))
    return kept


def _bbox_around(centre: np.ndarray, cam: CameraIntrinsics, shape, edge_mm: float) -> tuple[int, int, int, int]:
    """(x, y, w, h) of the projection of a square of ``edge_mm`` facing the camera at ``centre``, clipped."""
    H, W = shape[:2]
    fx, fy, cx, cy = cam.as_tuple()
    z = max(float(centre[2]), 1.0)
    u, v = centre[0] * fx / z + cx, centre[1] * fy / z + cy
    hx, hy = 0.5 * edge_mm * fx / z, 0.5 * edge_mm * fy / z
    x0, x1 = int(np.clip(u - hx, 0, W)), int(np.clip(u + hx, 0, W))
    y0, y1 = int(np.clip(v - hy, 0, H)), int(np.clip(v + hy, 0, H))
    return x0, y0, max(x1 - x0, 0), max(y1 - y0, 0)


_VERIFIERS: dict = {}


def _load_verifier(path: str):
    """(verifier or None, description, warning or None) for ``LocalizerConfig.verifier_path``.

    "none": no verifier. "": the shipped file; when it is missing the localiser falls back to the
    geometric score with a warning. Any other path must load: :class:`VerifierLoadError` otherwise.
    Loaded weights are shared by every localiser of the process (read-only inference).
    """
    if path.strip().lower() == NO_VERIFIER:
        return None, "none (geometric score)", None
    from kpfusion_ros.detection.verifier import VerifierLoadError, default_verifier_path, load_verifier

    if not path:
        p = default_verifier_path()
        if p is None:
            return None, "none (geometric score)", (
                "the shipped hand verifier (models/hand_verifier.pt) is not installed: hands are found by the "
                "geometric score alone (more false hands; set verifier_path to a verifier file, or 'none' to "
                "silence this)")
    else:
        p = Path(path).expanduser()
    key = (str(p), p.stat().st_mtime_ns if p.is_file() else None)
    if key not in _VERIFIERS:
        try:
            _VERIFIERS[key] = load_verifier(str(p))
        except VerifierLoadError:
            raise
    model, meta = _VERIFIERS[key]
    return model, f"{p} ({meta.get('description', 'hand verifier')})", None


def localize_hands(depth, intrinsics: CameraLike, config: LocalizerConfig | None = None) -> list[HandCandidate]:
    """Functional form of :meth:`HandLocalizer.localize`."""
    return HandLocalizer(config).localize(depth, intrinsics)
