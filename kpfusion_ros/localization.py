"""Depth-only hand localisation: where to crop, without a user-drawn box.

The network crops a 250 mm cube around a 3D centre that, at training time, is the
mean of the 21 ground-truth joints (reference §3 "Crop center and size"); the
authors' demo asks the user for a box and takes the mean pixel and depth of the
box pixels in [171, 1500] mm (reference §5). This module finds that centre by
itself from the depth image:

1. depth → float32 millimetres; 0, NaN, ±inf and negative values are invalid
   (uint16 mm input is accepted as is);
2. keep pixels inside the working volume ``[min_range_mm, max_range_mm]`` (depth z,
   camera frame, **millimetres**);
3. vectorised block sub-sampling by ``downsample`` (auto: about ``work_width``
   columns): each s×s block keeps its nearest in-range depth (robust to sensor holes;
   no depth mixing, so no flying pixels are invented);
4. split touching regions on depth discontinuities: a pixel whose 4-neighbour is
   nearer by more than ``discontinuity_mm`` is removed, so the near object keeps its
   full outline and the far one loses a one-pixel ring at the seam;
5. 4-connected components (``cv2.connectedComponentsWithStats``);
6. per component, the *front part*: pixels within ``front_depth_mm`` of the
   component's ``front_percentile``-th depth percentile. A hand + forearm (+ body)
   blob keeps its extremity nearest to the camera, which is usually the hand;
7. physical measurements: area = Σ pixel area·(z/f)² in cm², extent of the front
   part in mm, fraction of the image border covered by the whole component;
8. reject: front area outside ``[min_area_cm2, max_area_cm2]``, front extent above
   ``max_extent_mm``, front part lying on more than ``max_front_border_mm`` of the
   image border (a surface nearest at the image edge), whole component above ``max_blob_area_cm2`` or covering more
   than ``max_border_fraction`` of the image border (tables, walls, floors);
9. centre: mean of the back-projected 3D points of the front part, gathered at
   **full resolution** inside the component's (1-block dilated) footprint, plus
   ``surface_to_center_mm`` along +z (the visible surface lies in front of the
   joints; 0 by default, the pose feedback of the tracker removes the residual);
10. score (size plausibility × nearness) and return the best ``max_hands``.

Pixel convention: pixel (row v, column u) has coordinates (u, v) with integer
centres, the OpenCV convention that the intrinsics (fx, fy, cx, cy) and
:func:`kpfusion_ros.geometry.project` use.

Honest assumptions and limits:

* Depth only. **A hand cannot be told from a hand-sized object** (a cup, a
  phone, a head at the far end of the range…): anything of hand-like area and
  extent that is the nearest part of its blob is a candidate. Colour is ignored.
* Hands must be separated in depth from what they touch by more than
  ``discontinuity_mm`` (a flat hand lying on a table, or two hands pressed together
  at the same depth, merge into one blob and are then rejected or found as one).
* Slanted surfaces whose depth changes by more than ``discontinuity_mm`` between
  neighbouring sub-sampled pixels break into strips; those are rejected by their
  extent, not their area.
* A hand cut by the image border over more than ``max_front_border_mm`` is
  rejected (it looks like a surface continuing out of view).
* A forearm lying parallel to the image plane at the same depth as the hand is part
  of the "front part": the centre then sits between hand and forearm. The node's
  re-centring on the predicted joint mean (:func:`refine_center`) corrects it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np

__all__ = ["LocalizerConfig", "HandCandidate", "HandLocalizer", "localize_hands", "refine_center"]


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
    #: Physical area of the front part (cm²) for a plausible hand.
    min_area_cm2: float = 30.0
    max_area_cm2: float = 600.0
    #: Largest extent (width or height, mm) of the front part.
    max_extent_mm: float = 400.0
    #: Largest physical area of the whole component (cm²); bigger ones are background.
    max_blob_area_cm2: float = 6000.0
    #: Largest fraction of the image border pixels covered by the whole component.
    max_border_fraction: float = 0.25
    #: Longest physical length (mm) of image border the front part may lie on; a hand
    #: whose wrist leaves the frame touches it over ~70 mm, a plane corner over far more.
    max_front_border_mm: float = 120.0
    #: Neighbouring (sub-sampled) pixels whose depth differs more are not connected.
    discontinuity_mm: float = 25.0
    #: Front part: within ``front_depth_mm`` of this depth percentile of the component.
    front_percentile: float = 10.0
    front_depth_mm: float = 150.0
    #: Shift of the centre along +z from the visible-surface centroid (mm).
    surface_to_center_mm: float = 0.0
    #: Typical front-part area for the size score (cm²) and its log-normal width.
    typical_area_cm2: float = 150.0
    area_sigma_log: float = 0.7
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
        if self.discontinuity_mm <= 0 or self.front_depth_mm <= 0:
            raise ValueError("discontinuity_mm and front_depth_mm must be > 0")
        if not (0.0 <= self.front_percentile <= 100.0):
            raise ValueError("front_percentile must be in [0, 100]")
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

    @property
    def center_mm(self) -> np.ndarray:  # US spelling alias
        return self.centre_mm


def _intrinsics(intrinsics) -> tuple[float, float, float, float]:
    k = np.asarray(intrinsics, dtype=np.float64)
    if k.shape == (3, 3):
        return float(k[0, 0]), float(k[1, 1]), float(k[0, 2]), float(k[1, 2])
    k = k.reshape(-1)
    if k.size != 4:
        raise ValueError("intrinsics must be (fx, fy, cx, cy) or a 3x3 K matrix")
    return float(k[0]), float(k[1]), float(k[2]), float(k[3])


def _to_mm(depth) -> np.ndarray:
    d = np.asarray(depth)
    if d.ndim != 2:
        raise ValueError(f"depth must be H×W, got shape {d.shape}")
    d = d.astype(np.float32, copy=True)
    d[~np.isfinite(d) | (d < 0)] = 0.0
    return d


def refine_center(joints_mm) -> np.ndarray:
    """The crop centre the network was trained with: mean of the 21 joints (J×3 mm) → (3,).

    Non-finite joints are ignored; all non-finite gives NaNs (callers check).
    """
    j = np.asarray(joints_mm, dtype=np.float64).reshape(-1, 3)
    ok = np.isfinite(j).all(axis=1)
    if not ok.any():
        return np.full(3, np.nan)
    return j[ok].mean(axis=0)


class HandLocalizer:
    """Find up to ``max_hands`` hand candidates in a depth image (see module docstring)."""

    def __init__(self, config: LocalizerConfig | None = None) -> None:
        self.config = config or LocalizerConfig()

    def stride_for(self, width: int) -> int:
        c = self.config
        return c.downsample if c.downsample > 0 else max(1, int(round(width / c.work_width)))

    def localize(self, depth, intrinsics: Sequence[float] | np.ndarray, color=None) -> list[HandCandidate]:
        """Candidates sorted by decreasing score.

        ``depth``: H×W float (mm, 0/NaN invalid) or uint16 (mm). ``intrinsics``:
        (fx, fy, cx, cy) of that image or a 3×3 K. ``color`` is ignored for now.
        """
        c = self.config
        if c.max_hands == 0:
            return []
        fx, fy, cx, cy = _intrinsics(intrinsics)
        d = _to_mm(depth)
        H, W = d.shape
        s = self.stride_for(W)
        h, w = H // s, W // s
        if h < 2 or w < 2:
            return []
        # Nearest in-range depth of each s×s block (robust to holes, invents no depth).
        blk = d[: h * s, : w * s]
        blk = np.where((blk >= c.min_range_mm) & (blk <= c.max_range_mm), blk, np.inf)
        z = blk.reshape(h, s, w, s).min(axis=(1, 3))
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

        # Front depth: per-label percentile via a lexsort (label, z).
        order = np.lexsort((z_v, lab_v))
        starts = np.concatenate([[0], np.cumsum(counts)])[:-1]
        q = c.front_percentile / 100.0
        idx = starts + np.floor(q * np.maximum(counts - 1, 0)).astype(np.int64)
        z_front = np.full(n, np.inf)
        z_near = np.full(n, np.inf)
        nz = counts > 0
        z_sorted = z_v[order]
        z_front[nz] = z_sorted[idx[nz]]
        z_near[nz] = z_sorted[starts[nz]]

        in_front = z_v <= z_front[lab_v] + c.front_depth_mm
        front_area = np.bincount(lab_v[in_front], weights=pix_area[in_front], minlength=n)

        keep = (
            (counts >= c.min_pixels)
            & (blob_area <= c.max_blob_area_cm2)
            & (border_frac <= c.max_border_fraction)
            & (front_area >= c.min_area_cm2)
            & (front_area <= c.max_area_cm2)
        )
        keep[0] = False
        cands: list[HandCandidate] = []
        for k in np.flatnonzero(keep):
            cand = self._measure(d, labels, int(k), stats[k], s, z_near[k], z_front[k], (fx, fy, cx, cy))
            if cand is not None:
                cands.append(cand)
        cands.sort(key=lambda cd: -cd.score)
        return cands[: c.max_hands]

    # ------------------------------------------------------------------ helpers
    def _measure(self, d, labels, k, stat, s, z_near, z_front, cam) -> HandCandidate | None:
        """Full-resolution front part of component ``k``: centre, bbox, extent, score."""
        c = self.config
        fx, fy, cx, cy = cam
        H, W = d.shape
        h, w = labels.shape
        x0, y0, bw, bh = (int(v) for v in stat[:4])
        # Sub-sampled footprint dilated by one block, not stealing other components' blocks.
        ys0, ys1 = max(0, y0 - 1), min(h, y0 + bh + 1)
        xs0, xs1 = max(0, x0 - 1), min(w, x0 + bw + 1)
        sub = labels[ys0:ys1, xs0:xs1]
        own = (sub == k).astype(np.uint8)
        foot = (cv2.dilate(own, np.ones((3, 3), np.uint8)) > 0) & ((sub == k) | (sub == 0))
        # Full-resolution region covered by those blocks.
        Y0, Y1, X0, X1 = ys0 * s, ys1 * s, xs0 * s, xs1 * s
        if ys1 == h:
            Y1 = H
        if xs1 == w:
            X1 = W
        rows = np.minimum((np.arange(Y0, Y1) // s), h - 1) - ys0
        cols = np.minimum((np.arange(X0, X1) // s), w - 1) - xs0
        foot_full = foot[rows[:, None], cols[None, :]]
        zz = d[Y0:Y1, X0:X1].astype(np.float64)
        zmin = max(c.min_range_mm, z_near - c.discontinuity_mm)
        zmax = min(c.max_range_mm, z_front + c.front_depth_mm)
        m = foot_full & (zz >= zmin) & (zz <= zmax)
        cnt = int(m.sum())
        if cnt == 0:
            return None
        vv, uu = np.nonzero(m)
        zv = zz[vv, uu]
        uu = uu + X0
        vv = vv + Y0
        x = (uu - cx) * zv / fx
        y = (vv - cy) * zv / fy
        area = float(np.sum(zv * zv) / (fx * fy) / 100.0)
        ext = max(float(x.max() - x.min()), float(y.max() - y.min()))
        if ext > c.max_extent_mm or not (c.min_area_cm2 <= area <= c.max_area_cm2):
            return None
        # Physical length of image border the front part lies on: a surface that gets
        # nearer towards (and beyond) the image edge is not a hand in view.
        on_edge = (uu == 0) | (uu == W - 1) | (vv == 0) | (vv == H - 1)
        if on_edge.any():
            edge_mm = float(np.sum(zv[on_edge]) / math.sqrt(fx * fy))
            if edge_mm > c.max_front_border_mm:
                return None
        centre = np.array([x.mean(), y.mean(), zv.mean() + c.surface_to_center_mm])
        bbox = (int(uu.min()), int(vv.min()), int(uu.max() - uu.min() + 1), int(vv.max() - vv.min() + 1))
        size = math.exp(-0.5 * (math.log(area / c.typical_area_cm2) / c.area_sigma_log) ** 2)
        near = 1.0 - 0.5 * (zv.mean() - c.min_range_mm) / (c.max_range_mm - c.min_range_mm)
        score = float(size * min(1.0, max(0.5, near)))
        return HandCandidate(
            centre_mm=centre,
            bbox=bbox,
            pixel_count=cnt,
            mean_depth_mm=float(zv.mean()),
            score=score,
            area_cm2=area,
        )


def localize_hands(depth, intrinsics, config: LocalizerConfig | None = None, color=None) -> list[HandCandidate]:
    """Functional form of :meth:`HandLocalizer.localize`."""
    return HandLocalizer(config).localize(depth, intrinsics, color)
