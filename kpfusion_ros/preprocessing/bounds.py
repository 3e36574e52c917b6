"""Crop geometry: where each hand's crop lies in the image (host, float64, vectorised over K hands).

The bounds of a crop from its 3D centre and cube, the size and offset of the resized patch in
the S×S canvas, the full-image → crop affine ``M`` (reference §3 "Crop") and the nearest-neighbour
source indices of ``cv2.resize(..., INTER_NEAREST)``: O(K·S) numbers computed with exactly the
arithmetic of the authors' code, so that every pixel operation of :func:`~.crop.crop_hands` is then
a single gather on the device. Quirks of the authors reproduced on purpose are marked "QUIRK".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence, Union

import numpy as np
import torch

from kpfusion_ros.camera import CameraLike, camera_array

__all__ = ["CropGeometry", "crop_bounds", "crop_geometry", "crop_matrix", "nearest_indices"]

ArrayLike = Union[np.ndarray, torch.Tensor, Sequence[float]]


def as_rows(x: ArrayLike, shape_last: int, k: Optional[int] = None) -> np.ndarray:
    """float64 numpy view of x, broadcast to (k, shape_last) (or (·, shape_last))."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    a = np.asarray(x, dtype=np.float64).reshape(-1, shape_last)
    if k is not None and a.shape[0] != k:
        a = np.broadcast_to(a, (k, shape_last))
    return a


@dataclass(frozen=True)
class CropGeometry:
    """Per-hand crop geometry, all numpy, K leading (reference §3 "Crop").

    bounds: K×4 int64 (x_start, x_end, y_start, y_end), half-open, full-image pixels.
    z_range: K×2 float64 (z_start, z_end) in mm.
    size: K×2 int64 (w, h) of the nearest-resized patch.
    offset: K×2 int64 (x, y) where the patch is pasted into the S×S canvas.
    scale: K float64 isotropic scale s.
    M: K×3×3 float64 affine, full-image px → crop px (off · scale · trans).
    """

    bounds: np.ndarray
    z_range: np.ndarray
    size: np.ndarray
    offset: np.ndarray
    scale: np.ndarray
    M: np.ndarray


def crop_bounds(center_mm: ArrayLike, cube_mm: ArrayLike, cam: CameraLike) -> tuple[np.ndarray, np.ndarray]:
    """Integer crop bounds and z range from 3D centres (reference §3 "Crop", ``comToBounds``).

    center_mm: K×3 (or 3) camera-frame centres in mm; cube_mm: 3 or K×3; cam: one camera (any form
    :func:`~kpfusion_ros.camera.camera_array` takes) or K×4 rows.
    With (u_c, v_c, z_c) the projected centre:
    x ∈ [⌊u_c − (cube_x/2)·fx/z_c + 0.5⌋, ⌊u_c + (cube_x/2)·fx/z_c + 0.5⌋), y likewise with
    fy, z ∈ [z_c − cube_z/2, z_c + cube_z/2]. The arithmetic is evaluated in the authors'
    order ((u·z/fx ∓ c/2)/z·fx), so that ties round the same way.
    Returns (bounds K×4 int64 (x0, x1, y0, y1), z_range K×2 float64).
    """
    c = as_rows(center_mm, 3)
    k = c.shape[0]
    cube = as_rows(cube_mm, 3, k)
    fx, fy, cx, cy = camera_array(cam, k).T
    z = c[:, 2]
    hx, hy, hz = cube[:, 0] / 2.0, cube[:, 1] / 2.0, cube[:, 2] / 2.0
    with np.errstate(divide="ignore", invalid="ignore"):
        u = c[:, 0] * fx / z + cx
        v = c[:, 1] * fy / z + cy
        x0 = np.floor((u * z / fx - hx) / z * fx + 0.5)
        x1 = np.floor((u * z / fx + hx) / z * fx + 0.5)
        y0 = np.floor((v * z / fy - hy) / z * fy + 0.5)
        y1 = np.floor((v * z / fy + hy) / z * fy + 0.5)
    b = np.stack([x0, x1, y0, y1], axis=-1)
    b = np.where(np.isfinite(b), b, 0).astype(np.int64)
    return b, np.stack([z - hz, z + hz], axis=-1)


def crop_geometry(
    center_mm: ArrayLike, cube_mm: ArrayLike, cam: CameraLike, crop_size: int = 128
) -> CropGeometry:
    """Bounds, resize size, paste offset, scale and ``M`` of each crop (reference §3 "Crop").

    Resize size (authors' ``Crop_Image_deep_pp``): with w_b, h_b the bound extents,
    (S, int(h_b·S/w_b)) if w_b > h_b else (int(w_b·S/h_b), S) (truncation); scale
    s = S/max(w_b, h_b); paste offset ⌊S/2 − size/2⌋ per axis (the patch is centred,
    the odd pixel goes right/down). M = off · scale · trans. Degenerate crops
    (z ≤ 0 or an empty extent) get a size clamped to ≥ 1 and are reported invalid by
    :func:`crop_hands`.
    """
    bounds, z_range = crop_bounds(center_mm, cube_mm, cam)
    S = int(crop_size)
    wb = (bounds[:, 1] - bounds[:, 0]).astype(np.int64)
    hb = (bounds[:, 3] - bounds[:, 2]).astype(np.int64)
    wbf = np.maximum(wb, 1).astype(np.float64)
    hbf = np.maximum(hb, 1).astype(np.float64)
    wide = wb > hb
    w = np.where(wide, S, np.trunc(wbf * S / hbf)).astype(np.int64)
    h = np.where(wide, np.trunc(hbf * S / wbf), S).astype(np.int64)
    w, h = np.clip(w, 1, S), np.clip(h, 1, S)
    # the authors pick the scale by the *padded patch's* shape (= (h_b, w_b)): h_b > w_b → h/h_b
    s = np.where(hb > wb, h / hbf, w / wbf)
    ox = np.floor(S / 2.0 - w / 2.0).astype(np.int64)
    oy = np.floor(S / 2.0 - h / 2.0).astype(np.int64)
    M = np.zeros((bounds.shape[0], 3, 3), dtype=np.float64)
    M[:, 0, 0] = s
    M[:, 1, 1] = s
    M[:, 0, 2] = -s * bounds[:, 0] + ox
    M[:, 1, 2] = -s * bounds[:, 2] + oy
    M[:, 2, 2] = 1.0
    return CropGeometry(
        bounds=bounds,
        z_range=z_range,
        size=np.stack([w, h], -1),
        offset=np.stack([ox, oy], -1),
        scale=s,
        M=M,
    )


def crop_matrix(center_mm: ArrayLike, cube_mm: ArrayLike, cam: CameraLike, crop_size: int = 128) -> np.ndarray:
    """K×3×3 float64 affine full-image px → crop px (reference §3 "Crop"); see :func:`crop_geometry`."""
    return crop_geometry(center_mm, cube_mm, cam, crop_size).M


def nearest_indices(src_len: np.ndarray | int, dst_len: np.ndarray | int, out_len: int) -> np.ndarray:
    """Source index picked by ``cv2.resize(..., INTER_NEAREST)`` for each destination index.

    OpenCV's nearest resize maps destination index j to
    ``min(⌊j · (1 / (dst/src))⌋, src − 1)`` evaluated in float64 (top-left sampling,
    not pixel centres; this is *not* ``INTER_NEAREST_EXACT``). ``src_len``/``dst_len``
    are K-vectors (or ints); returns K×out_len int64 with −1 where j ≥ dst_len.
    The test suite checks this against ``cv2.resize`` for every (src, dst) pair in a range.
    """
    src = np.atleast_1d(np.asarray(src_len, dtype=np.int64))[:, None]
    dst = np.atleast_1d(np.asarray(dst_len, dtype=np.int64))[:, None]
    j = np.arange(out_len, dtype=np.int64)[None, :]
    inv = 1.0 / (dst.astype(np.float64) / src.astype(np.float64))
    idx = np.minimum(np.floor(j * inv).astype(np.int64), src - 1)
    return np.where(j < dst, idx, -1)


def canvas_source_indices(geo: CropGeometry, crop_size: int, limit: np.ndarray, axis: int) -> np.ndarray:
    """K×S full-image source index of every canvas row (axis=1) or column (axis=0); −1 = zero fill."""
    S = int(crop_size)
    start = geo.bounds[:, 2 * axis]
    extent = np.maximum(geo.bounds[:, 2 * axis + 1] - start, 1)
    size = geo.size[:, axis]
    off = geo.offset[:, axis]
    canvas = np.arange(S, dtype=np.int64)[None, :] - off[:, None]  # index into the resized patch
    inside = (canvas >= 0) & (canvas < size[:, None])
    table = nearest_indices(extent, size, S)  # K×S, indexed by patch index
    patch_idx = np.take_along_axis(table, np.clip(canvas, 0, S - 1), axis=1)
    src = start[:, None] + patch_idx
    ok = inside & (src >= 0) & (src < np.asarray(limit)[..., None])
    return np.where(ok, src, -1)

