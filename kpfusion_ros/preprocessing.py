"""RGB-D hand crops, depth normalisation and point clouds for Keypoint-Fusion (reference §3, §5).

What the network eats per hand (reference §1 "Inputs", §3 "Sample tuple"):
a 3×S×S colour crop in [0, 1], a 1×S×S normalised depth crop in [−1, 1] with
background +1, N points in ``xyz_nl``, the crop centre (mm), the full-image → crop
affine ``M``, the cube (mm) and the original intrinsics (fx, fy, cx, cy).

Two implementations of the same procedure live here:

* :func:`crop_hands` – batched torch (CPU or CUDA): K hands of one frame in one call,
  no per-pixel or per-hand Python loops. The per-hand crop *geometry* (bounds, resize
  size, paste offset, ``M`` and the nearest-neighbour source indices, O(K·S) numbers)
  is computed on the host in float64 with exactly the arithmetic of the authors'
  code; every pixel operation is then a single gather on the device.
* :func:`reference_crop` – the authors' procedure written plainly with numpy and
  ``cv2.resize`` for one hand; the tests use it as the oracle for the batched path.

Conventions are those of :mod:`kpfusion_ros.geometry` (the single place where
coordinates change frame). Quirks of the authors reproduced on purpose are marked
"QUIRK" in the docstrings.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Optional, Sequence, Union

import numpy as np
import torch

from kpfusion_ros.geometry import (
    backproject,
    mirror_points_mm,
    mm_to_xyz_nl,
    project,
    xyz_nl_to_mm,
    xyz_nl_to_uvd_nl,
)

__all__ = [
    "CropConfig",
    "CenterConfig",
    "CropGeometry",
    "CropBatch",
    "crop_bounds",
    "crop_geometry",
    "crop_matrix",
    "nearest_indices",
    "normalize_depth",
    "foreground_mask",
    "foreground_points_mask",
    "lift_pixels",
    "depth_to_points",
    "sample_indices",
    "sample_points",
    "crop_hands",
    "crop_batch_from_canvas",
    "reference_crop",
    "labels_from_joints",
    "predictions_to_camera",
    "center_from_bbox",
]

ArrayLike = Union[np.ndarray, torch.Tensor, Sequence[float]]

#: ``np.isclose(d_nl, 1)`` tolerances the authors use to find background pixels
#: of the normalised crop (``getpcl``): |d − 1| ≤ atol + rtol·1.
_BG_ATOL = 1e-8
_BG_RTOL = 1e-5


# ---------------------------------------------------------------------------------------
# configuration
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CropConfig:
    """Crop and point-cloud settings (defaults = the authors' DexYCB test path, reference §3).

    crop_size: side S of the square crop (128).
    cube_mm: metric crop volume (x, y, z) in mm around the centre (250³; HO3D uses 280).
    num_points: N points sampled from the depth crop (1024).
    max_value_quirk: QUIRK (reference §3 "Depth normalisation" 1., §7.13): the authors
        treat every pixel equal to the crop's maximum value as background, which erases
        the farthest valid depth. On by default for ``official`` fidelity.
    bgr: output colour channels in B, G, R order as the authors' cv2 loader feeds the
        network (reference §3 "RGB normalisation"); False gives R, G, B.
    clamp_points: clamp the sampled points to [−1, 1] (HO3D and the demo do, DexYCB
        does not; reference §3 "Point cloud").
    valid_depth_mm: input depths outside [lo, hi] (and non-finite ones) are treated as
        invalid (0) before cropping. The authors have no such range; the default
        (0, inf) changes nothing.
    dtype: floating dtype of the returned tensors.
    """

    crop_size: int = 128
    cube_mm: tuple[float, float, float] = (250.0, 250.0, 250.0)
    num_points: int = 1024
    max_value_quirk: bool = True
    bgr: bool = True
    clamp_points: bool = False
    valid_depth_mm: tuple[float, float] = (0.0, math.inf)
    dtype: torch.dtype = torch.float32


@dataclass(frozen=True)
class CenterConfig:
    """Settings of the demo's centre-from-bbox rule (reference §5 "Center").

    lower_mm, upper_mm: depth window of the pixels that vote ([171, 1500] mm).
    fallback_z_mm: depth used when no pixel votes (300 mm).
    linspace_quirk: QUIRK: the demo builds pixel coordinates with
        ``linspace(0, w, w)`` (step w/(w−1)) instead of ``arange(w)``; True keeps it.
    """

    lower_mm: float = 171.0
    upper_mm: float = 1500.0
    fallback_z_mm: float = 300.0
    linspace_quirk: bool = True


# ---------------------------------------------------------------------------------------
# crop geometry (host, float64, vectorised over K)
# ---------------------------------------------------------------------------------------


def _as_np(x: ArrayLike, shape_last: int, k: Optional[int] = None) -> np.ndarray:
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


def crop_bounds(center_mm: ArrayLike, cube_mm: ArrayLike, cam: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Integer crop bounds and z range from 3D centres (reference §3 "Crop", ``comToBounds``).

    center_mm: K×3 (or 3) camera-frame centres in mm; cube_mm: 3 or K×3; cam: 4 or K×4.
    With (u_c, v_c, z_c) the projected centre:
    x ∈ [⌊u_c − (cube_x/2)·fx/z_c + 0.5⌋, ⌊u_c + (cube_x/2)·fx/z_c + 0.5⌋), y likewise with
    fy, z ∈ [z_c − cube_z/2, z_c + cube_z/2]. The arithmetic is evaluated in the authors'
    order ((u·z/fx ∓ c/2)/z·fx), so that ties round the same way.
    Returns (bounds K×4 int64 (x0, x1, y0, y1), z_range K×2 float64).
    """
    c = _as_np(center_mm, 3)
    k = c.shape[0]
    cube = _as_np(cube_mm, 3, k)
    fx, fy, cx, cy = _as_np(cam, 4, k).T
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
    center_mm: ArrayLike, cube_mm: ArrayLike, cam: ArrayLike, crop_size: int = 128
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


def crop_matrix(center_mm: ArrayLike, cube_mm: ArrayLike, cam: ArrayLike, crop_size: int = 128) -> np.ndarray:
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


def _canvas_source_indices(geo: CropGeometry, crop_size: int, limit: np.ndarray, axis: int) -> np.ndarray:
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


# ---------------------------------------------------------------------------------------
# depth normalisation and point cloud (torch, batched)
# ---------------------------------------------------------------------------------------


def normalize_depth(
    depth_crop: torch.Tensor, z_center: torch.Tensor, cube_z: torch.Tensor, max_value_quirk: bool = True
) -> torch.Tensor:
    """Normalise K×S×S depth crops (mm, 0 = background) to [−1, 1], background +1 (reference §3).

    1. background = pixels equal to 0 and, QUIRK (``max_value_quirk``, reference §3
       "Depth normalisation" 1. and §7.13 "normalize_img erases the farthest valid depth"),
       pixels equal to the crop's maximum value (computed over the whole S×S canvas after
       the z-threshold, so it is the farthest valid depth ≤ z_end);
    2. d_nl = clamp((d − z_c)/(cube_z/2), −1, 1), background exactly +1.
    ``z_center`` and ``cube_z`` are K-vectors (mm).
    """
    K = depth_crop.shape[0]
    zc = z_center.to(depth_crop).view(K, 1, 1)
    half = (cube_z.to(depth_crop) / 2.0).view(K, 1, 1)
    bg = depth_crop == 0
    if max_value_quirk and depth_crop.numel() > 0:
        premax = depth_crop.reshape(K, -1).amax(dim=1).view(K, 1, 1)
        bg = bg | (depth_crop == premax)
    d = ((depth_crop - zc) / half).clamp(-1.0, 1.0)
    return torch.where(bg, torch.ones_like(d), d)


def foreground_mask(depth_nl: torch.Tensor) -> torch.Tensor:
    """Non-background pixels of a normalised crop: ``not isclose(d_nl, 1)`` with numpy's
    default tolerances (|d − 1| > 1e-8 + 1e-5), exactly the authors' test (``getpcl``, reference §3 "Point cloud")."""
    return (depth_nl - 1.0).abs() > (_BG_ATOL + _BG_RTOL)


def foreground_points_mask(depth_nl: torch.Tensor, center: torch.Tensor, cube: torch.Tensor) -> torch.Tensor:
    """K×S² bool: the pixels of K×S×S normalised crops that become points (reference §3 "Point cloud").

    Not background (:func:`foreground_mask`) and, as the authors' ``getpcl``, not lifted to
    z ≈ 0 (|z| ≤ 1e-8 mm, with z = d_nl·cube_z/2 + c_z).
    """
    K, H, W = depth_nl.shape
    dt = depth_nl.dtype
    z = depth_nl.reshape(K, H * W) * (cube.to(dt)[:, 2:3] / 2.0) + center.to(dt)[:, 2:3]
    return foreground_mask(depth_nl).reshape(K, H * W) & ~(z.abs() <= _BG_ATOL)


def lift_pixels(
    depth_nl: torch.Tensor,
    index: torch.Tensor,
    center: torch.Tensor,
    M: torch.Tensor,
    cube: torch.Tensor,
    cam: torch.Tensor,
) -> torch.Tensor:
    """``xyz_nl`` of the crop pixels ``index`` (K×P row-major indices into S×S) → K×P×3.

    Pixel (row, col) is taken at crop px (col + 0.5, row + 0.5), mapped by M⁻¹ to the
    full image, back-projected with z = d_nl·cube_z/2 + c_z and normalised by
    (xyz − c)/(cube/2) (reference §3 "Point cloud"). Every step is elementwise, so a
    pixel gets the same bits whether it is lifted alone or with the whole crop.
    """
    return _lift(depth_nl, index, center, torch.linalg.inv(M.to(torch.float64)), cube, cam)


def _lift(depth_nl, index, center, Minv, cube, cam) -> torch.Tensor:
    """:func:`lift_pixels` given M⁻¹ (K×3×3, float64; :func:`crop_hands` inverts on the host)."""
    K, H, W = depth_nl.shape
    dt = depth_nl.dtype
    idx = index.long()
    u = (idx % W).to(dt) + 0.5
    v = torch.div(idx, W, rounding_mode="floor").to(dt) + 0.5
    Minv = Minv.to(dt)
    a, b, c = (Minv[:, 0, j].view(K, 1) for j in range(3))
    d, e, f = (Minv[:, 1, j].view(K, 1) for j in range(3))
    uv_full = torch.stack([a * u + b * v + c, d * u + e * v + f], dim=-1)
    cube = cube.to(dt)
    center = center.to(dt)
    z = depth_nl.reshape(K, H * W).gather(1, idx) * (cube[:, 2:3] / 2.0) + center[:, 2:3]
    return mm_to_xyz_nl(backproject(uv_full, z, cam.to(dt)), center, cube)


def depth_to_points(
    depth_nl: torch.Tensor,
    center: torch.Tensor,
    M: torch.Tensor,
    cube: torch.Tensor,
    cam: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Lift every pixel of K×S×S normalised crops to ``xyz_nl`` (reference §3 "Point cloud").

    Returns (points K×S²×3 row-major, foreground mask K×S²). Dense: background pixels are
    lifted too and only masked out. :func:`crop_hands` lifts only the sampled pixels
    (:func:`sample_indices` + :func:`lift_pixels`), which gives the same points.
    """
    K, H, W = depth_nl.shape
    index = torch.arange(H * W, device=depth_nl.device).expand(K, H * W)
    pts = lift_pixels(depth_nl, index, center, M, cube, cam)
    return pts, foreground_points_mask(depth_nl, center, cube)


def _rand(shape: tuple[int, ...], generator: Optional[torch.Generator], device: torch.device) -> torch.Tensor:
    if generator is None:
        return torch.rand(shape, device=device)
    return torch.rand(shape, generator=generator, device=generator.device).to(device)


def sample_indices(
    mask: torch.Tensor,
    num_points: int = 1024,
    generator: Optional[torch.Generator] = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Which of P candidates to take, N per row (reference §3 "Point cloud", sampling).

    mask: K×P bool (n_k = mask[k].sum()). Returns (K×N int64 indices into P, K bool n_k > 0).
    The authors' rule, for all K rows at once (random keys, no loop over hands):

    * n ≥ N: N distinct points chosen uniformly, in random order;
    * 0 < n < N: every point ⌊N/n⌋ times, plus a uniformly random subset of N mod n
      points once more, in random order (the authors' tile + ``choice`` without replacement);
    * n = 0: indices are meaningless (the second output is False).

    Foreground points get uniform random keys, background 2; the ``min(N, P)`` smallest
    keys (``topk``, not a full sort: 0.03 vs 0.24 ms for P = 128², 2-core CPU) are the
    foreground in uniformly random order, and when n < N they are all of it, so the
    multiplicities only need those positions. Deterministic given ``generator``.
    """
    K, P = mask.shape
    N = int(num_points)
    dev = mask.device
    n = mask.sum(dim=1)
    if K == 0 or P == 0:
        return torch.zeros((K, N), dtype=torch.long, device=dev), n > 0
    keys = torch.where(mask, _rand((K, P), generator, dev), torch.full((), 2.0, device=dev))
    m = min(N, P)
    first = keys.topk(m, dim=1, largest=False, sorted=True).indices  # K×m, foreground first, shuffled
    rank = torch.arange(m, device=dev).expand(K, m)
    n_safe = n.clamp(min=1).unsqueeze(1)
    q = N // n_safe  # n > N → 0 copies ...
    r = N % n_safe  # ... plus one for the first N (r = N)
    counts = (rank < n_safe).long() * (q + (rank < r).long())  # K×m, sums to N when n > 0
    csum = counts.cumsum(dim=1)
    j = torch.arange(N, device=dev).expand(K, N).contiguous()
    pos = torch.searchsorted(csum, j, right=True).clamp(max=m - 1)  # tiled: each rank `counts` times
    perm = _rand((K, N), generator, dev).argsort(dim=1)  # shuffle the tiled copies
    return first.gather(1, pos.gather(1, perm)), n > 0


def sample_points(
    points: torch.Tensor,
    mask: torch.Tensor,
    num_points: int = 1024,
    generator: Optional[torch.Generator] = None,
) -> torch.Tensor:
    """Resample the masked points (K×P×3, mask K×P) of each row to exactly N (:func:`sample_indices`).

    Rows without a masked point give N zero points.
    """
    K, P, _ = points.shape
    N = int(num_points)
    if K == 0:
        return points.new_zeros((0, N, 3))
    src, any_fg = sample_indices(mask, N, generator)
    out = points.gather(1, src.unsqueeze(-1).expand(K, N, 3))
    return torch.where(any_fg.view(K, 1, 1), out, torch.zeros_like(out))


# ---------------------------------------------------------------------------------------
# the batched crop
# ---------------------------------------------------------------------------------------


@dataclass
class CropBatch:
    """K hand crops of one frame, ready for the network (reference §1 "Inputs").

    rgb: K×3×S×S in [0, 1] (BGR if ``CropConfig.bgr``); depth: K×1×S×S in [−1, 1];
    pcl: K×N×3 xyz_nl; center: K×3 mm (mirrored frame for mirrored hands); M: K×3×3;
    cube: K×3 mm; cam: K×4 original (fx, fy, cx, cy); mirrored: K bool; bounds: K×4
    int64 (x0, x1, y0, y1) in the (mirrored) image; z_range: K×2 mm; valid: K bool
    (False for degenerate crops: centre z ≤ 0 or empty bounds; their images are blank);
    num_foreground: K int64 foreground pixel count; image_size: (H, W) of the frame.
    """

    rgb: torch.Tensor
    depth: torch.Tensor
    pcl: torch.Tensor
    center: torch.Tensor
    M: torch.Tensor
    cube: torch.Tensor
    cam: torch.Tensor
    mirrored: torch.Tensor
    bounds: torch.Tensor
    z_range: torch.Tensor
    valid: torch.Tensor
    num_foreground: torch.Tensor
    image_size: tuple[int, int] = field(default=(0, 0))

    @property
    def crop_size(self) -> int:
        return int(self.depth.shape[-1])

    def network_inputs(self) -> tuple[torch.Tensor, ...]:
        """(rgb, depth, pcl, center, M, cube, cam), the forward-pass argument order (reference §1)."""
        return self.rgb, self.depth, self.pcl, self.center, self.M, self.cube, self.cam


def _to_tensor(x, device) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        return x.to(device)
    return torch.from_numpy(np.ascontiguousarray(x)).to(device)


def crop_hands(
    color: Union[np.ndarray, torch.Tensor],
    depth_mm: Union[np.ndarray, torch.Tensor],
    centers_mm: ArrayLike,
    cam: ArrayLike,
    cfg: CropConfig = CropConfig(),
    generator: Optional[torch.Generator] = None,
    mirror: Optional[ArrayLike] = None,
    color_order: str = "rgb",
    cube_mm: Optional[ArrayLike] = None,
    device: Optional[Union[str, torch.device]] = None,
    timings: Optional[dict] = None,
) -> CropBatch:
    """Crop K hands from one RGB-D frame in one batched call (reference §3 "Crop" … "Point cloud").

    color: H×W×3 uint8 (channel order ``color_order``, 'rgb' or 'bgr'); depth_mm: H×W float
    (or integer) mm aligned to color, 0 = invalid; centers_mm: K×3 camera-frame centres in
    the *real* (un-mirrored) frame; cam: 4 or K×4 (fx, fy, cx, cy) of the colour image;
    mirror: K bools (left hands) or None; cube_mm: 3 or K×3, default ``cfg.cube_mm``;
    device: where the work happens (default: the colour tensor's device, else CPU);
    timings: if a dict, ``timings["point_sampling"]`` is increased by the wall time (ms) of
    step 6 (host time: on CUDA without a synchronisation, i.e. the launch cost).

    Per hand, exactly the authors' test-time procedure:

    1. mirrored hands (reference §3 "Left hands"): the frame is mirrored column-wise and
       the centre mirrored by :func:`~kpfusion_ros.geometry.mirror_points_mm`;
    2. bounds (:func:`crop_bounds`); the patch is read with zero padding outside the image;
    3. depth z-threshold: 0 < d < z_start → z_start, d > z_end → 0;
    4. ``INTER_NEAREST`` resize to fit S along the longer side (:func:`nearest_indices`)
       and centred paste into a zero S×S canvas; the colour crop uses the same bounds,
       resize and paste, without threshold; colour is divided by 255;
    5. depth normalisation (:func:`normalize_depth`);
    6. point cloud and resampling to N: the pixels to keep are drawn first
       (:func:`sample_indices`) and only those are lifted (:func:`lift_pixels`), which
       equals :func:`depth_to_points` + :func:`sample_points`; optionally clamped to [−1, 1].

    Steps 2–4 are one gather per modality: canvas pixel (r, c) reads source pixel
    (y_start + ny[r − oy], x_start + nx[c − ox]) where n· are OpenCV's nearest indices.
    """
    if device is None:
        device = color.device if isinstance(color, torch.Tensor) else torch.device("cpu")
    device = torch.device(device)
    S, N, dt = int(cfg.crop_size), int(cfg.num_points), cfg.dtype

    c_np = _as_np(centers_mm, 3)
    K = c_np.shape[0]
    cam_np = np.array(_as_np(cam, 4, K), copy=True)
    cube_np = np.array(_as_np(cfg.cube_mm if cube_mm is None else cube_mm, 3, K), copy=True)
    mir = np.zeros(K, bool) if mirror is None else np.asarray(
        mirror.cpu().numpy() if isinstance(mirror, torch.Tensor) else mirror, dtype=bool
    ).reshape(K)

    col = _to_tensor(color, device)
    dep = _to_tensor(depth_mm, device)
    H, W = int(dep.shape[0]), int(dep.shape[1])
    if tuple(col.shape[:2]) != (H, W):
        raise ValueError(f"color {tuple(col.shape)} and depth {tuple(dep.shape)} must be aligned (same H×W)")

    # 1. centres in the frame the network sees
    center = c_np.copy()
    if mir.any():
        pts_mir = torch.from_numpy(center[mir]).unsqueeze(1)  # K'×1×3: one point per hand
        center[mir] = mirror_points_mm(pts_mir, torch.from_numpy(cam_np[mir]), W)[:, 0].numpy()

    geo = crop_geometry(center, cube_np, cam_np, S)
    valid = (center[:, 2] > 0) & (geo.bounds[:, 1] > geo.bounds[:, 0]) & (geo.bounds[:, 3] > geo.bounds[:, 2])
    rows = _canvas_source_indices(geo, S, np.full(K, H), axis=1)  # K×S
    cols = _canvas_source_indices(geo, S, np.full(K, W), axis=0)  # K×S
    cols = np.where((cols >= 0) & mir[:, None], W - 1 - cols, cols)  # read the mirrored frame
    rows[~valid] = -1

    rows_t = torch.from_numpy(rows).to(device)
    cols_t = torch.from_numpy(cols).to(device)
    inside = (rows_t >= 0).unsqueeze(2) & (cols_t >= 0).unsqueeze(1)  # K×S×S
    flat = rows_t.clamp(min=0).unsqueeze(2) * W + cols_t.clamp(min=0).unsqueeze(1)

    # depth: gather (K×S×S; indexing, as take() has no uint16 kernel); colour: one gather
    dcrop = dep.reshape(-1)[flat]
    if color_order not in ("rgb", "bgr"):
        raise ValueError("color_order must be 'rgb' or 'bgr'")
    C = int(col.shape[2]) if col.dim() == 3 else 1
    if C != 3:
        raise ValueError(f"color must be H×W×3, got shape {tuple(col.shape)}")
    src = col.reshape(-1)
    if src.dtype == torch.uint16:  # no take() kernel for uint16
        src = src.to(torch.int32)
    order = (2, 1, 0) if (color_order == "rgb") == cfg.bgr else (0, 1, 2)
    chan = torch.tensor(order, device=device).view(1, 3, 1, 1)
    rgb = src.take(flat.unsqueeze(1) * 3 + chan)  # K×3×S×S, network channel order
    return crop_batch_from_canvas(dcrop, rgb, geo, center, cube_np, cam_np, mir, cfg, generator, (H, W), device,
                                  inside=inside, timings=timings, channels_first=True)


def crop_batch_from_canvas(depth_canvas: torch.Tensor, color_canvas: torch.Tensor, geo: CropGeometry,
                           center: np.ndarray, cube: np.ndarray, cam: np.ndarray, mirror: np.ndarray,
                           cfg: CropConfig, generator: Optional[torch.Generator], image_size: tuple[int, int],
                           device, inside: Optional[torch.Tensor] = None, timings: Optional[dict] = None,
                           channels_first: bool = False) -> CropBatch:
    """Steps 3–6 of :func:`crop_hands` on crops already on their S×S canvas → :class:`CropBatch`.

    ``depth_canvas`` K×S×S (mm, any dtype; 0 / non-finite / outside ``cfg.valid_depth_mm`` invalid),
    ``color_canvas`` K×S×S×3 RGB (or, with ``channels_first``, K×3×S×S already in the network's
    channel order), 0–255; ``inside`` K×S×S marks canvas pixels that read the image (default: all);
    ``center`` K×3 mm in the frame the network sees (mirrored for mirrored hands). Used by
    :func:`crop_hands` (canvas gathered from a frame) and by the synthetic renderer (canvas
    rendered directly, :mod:`kpfusion_ros.data.synthetic.crops`).
    """
    device = torch.device(device)
    K = depth_canvas.shape[0]
    dt = cfg.dtype
    N = int(cfg.num_points)
    if inside is None:
        inside = torch.ones(depth_canvas.shape, dtype=torch.bool, device=device)
    valid = (center[:, 2] > 0) & (geo.bounds[:, 1] > geo.bounds[:, 0]) & (geo.bounds[:, 3] > geo.bounds[:, 2])
    inside = inside & torch.from_numpy(valid).to(device).view(K, 1, 1)
    # depth: sanitise, z-threshold
    lo, hi = cfg.valid_depth_mm
    dcrop = depth_canvas.to(dt)
    ok = inside & (dcrop >= lo) & (dcrop <= hi) & (dcrop > 0)  # NaN fails every comparison
    if not (math.isfinite(lo) and math.isfinite(hi)):
        ok &= torch.isfinite(dcrop)
    dcrop = torch.where(ok, dcrop, torch.zeros((), dtype=dt, device=device))
    zr = torch.from_numpy(geo.z_range).to(device=device, dtype=dt)
    z0, z1 = zr[:, 0].view(K, 1, 1), zr[:, 1].view(K, 1, 1)
    nz = dcrop != 0
    dcrop = torch.where(nz & (dcrop < z0), z0.expand_as(dcrop), dcrop)
    dcrop = torch.where(nz & (dcrop > z1), torch.zeros_like(dcrop), dcrop)

    # colour in the network's channel order, then [0, 1]
    if channels_first:
        rgb = color_canvas
    else:
        order = [2, 1, 0] if cfg.bgr else [0, 1, 2]
        rgb = color_canvas[..., order].permute(0, 3, 1, 2)
    rgb = torch.where(inside.unsqueeze(1), rgb, torch.zeros((), dtype=rgb.dtype, device=device))
    # v / 255 divided by a tensor (not a Python scalar, which CUDA turns into v · (1/255)): for uint8
    # input the float32 results equal numpy's float64 v/255 rounded to float32 for all 256 values
    rgb = rgb.to(dt) / torch.full((), 255.0, dtype=dt, device=device)

    center_t = torch.from_numpy(np.asarray(center, np.float64)).to(device=device, dtype=dt)
    cube_t = torch.from_numpy(np.asarray(cube, np.float64)).to(device=device, dtype=dt)
    cam_t = torch.from_numpy(np.asarray(cam, np.float64)).to(device=device, dtype=dt)
    M_t = torch.from_numpy(geo.M).to(device=device, dtype=dt)

    dnl = normalize_depth(dcrop, center_t[:, 2], cube_t[:, 2], cfg.max_value_quirk)
    # points: sample pixel indices first, then lift only those (same values as lifting every
    # pixel and sampling, 16× fewer to lift at S = 128, N = 1024)
    t_pts = time.perf_counter()
    mask = foreground_points_mask(dnl, center_t, cube_t)
    src, any_fg = sample_indices(mask, N, generator)
    pcl = _lift(dnl, src, center_t, torch.from_numpy(np.linalg.inv(geo.M)).to(device), cube_t, cam_t)
    pcl = torch.where(any_fg.view(K, 1, 1), pcl, torch.zeros_like(pcl))
    if cfg.clamp_points:
        pcl = pcl.clamp(-1.0, 1.0)
    if timings is not None:
        timings["point_sampling"] = timings.get("point_sampling", 0.0) + (time.perf_counter() - t_pts) * 1e3

    return CropBatch(
        rgb=rgb,
        depth=dnl.unsqueeze(1),
        pcl=pcl,
        center=center_t,
        M=M_t,
        cube=cube_t,
        cam=cam_t,
        mirrored=torch.from_numpy(np.asarray(mirror, bool)).to(device),
        bounds=torch.from_numpy(geo.bounds).to(device),
        z_range=zr,
        valid=torch.from_numpy(valid).to(device),
        num_foreground=mask.sum(dim=1),
        image_size=tuple(image_size),
    )



# ---------------------------------------------------------------------------------------
# plain single-hand reference (the tests' oracle)
# ---------------------------------------------------------------------------------------


def reference_crop(
    color: np.ndarray,
    depth_mm: np.ndarray,
    center_mm: ArrayLike,
    cam: ArrayLike,
    cfg: CropConfig = CropConfig(),
    mirror: bool = False,
    color_order: str = "rgb",
) -> dict[str, np.ndarray]:
    """The authors' test-time crop of one hand, written plainly with numpy and ``cv2.resize``.

    Mirrors the frame with ``[:, ::-1]``, crops the bounds with zero padding, z-thresholds,
    resizes with ``cv2.INTER_NEAREST`` to (w, h), pastes at the centred offset, normalises
    step by step as ``normalize_img`` (float32) and lifts every foreground pixel. Used as
    the oracle for :func:`crop_hands`; not meant for speed. Returns a dict with
    ``depth_mm`` (S×S thresholded crop), ``depth`` (S×S normalised), ``rgb`` (3×S×S),
    ``points`` (n×3 xyz_nl, row-major pixel order, unsampled), ``center`` (3, mm, in the
    frame the network sees), ``M`` (3×3 float64), ``bounds`` (4 ints), ``z_range`` (2).
    """
    import cv2

    S = int(cfg.crop_size)
    cam_np = _as_np(cam, 4)[0]
    fx, fy, cx, cy = cam_np
    cube = np.asarray(cfg.cube_mm, dtype=np.float64)
    c = _as_np(center_mm, 3)[0].copy()
    dep = np.asarray(depth_mm, dtype=np.float32).copy()
    dep[~np.isfinite(dep) | (dep < cfg.valid_depth_mm[0]) | (dep > cfg.valid_depth_mm[1]) | (dep < 0)] = 0
    img = np.asarray(color)
    H, W = dep.shape
    if mirror:
        dep = dep[:, ::-1].copy()
        img = img[:, ::-1].copy()
        u = c[0] * fx / c[2] + cx
        v = c[1] * fy / c[2] + cy
        u = W - u - 1
        c = np.array([(u - cx) * c[2] / fx, (v - cy) * c[2] / fy, c[2]])

    (x0, x1, y0, y1), (z0, z1) = (b[0] for b in crop_bounds(c, cube, cam_np))

    def get_patch(a: np.ndarray) -> np.ndarray:
        # zero-padded read of [y0, y1) × [x0, x1) (the authors pad with np.pad; same result)
        p = np.zeros((y1 - y0, x1 - x0) + a.shape[2:], a.dtype)
        ys, ye, xs, xe = max(y0, 0), min(y1, H), max(x0, 0), min(x1, W)
        if ye > ys and xe > xs:
            p[ys - y0 : ye - y0, xs - x0 : xe - x0] = a[ys:ye, xs:xe]
        return p

    dp = get_patch(dep)
    dp[(dp < z0) & (dp != 0)] = z0
    dp[(dp > z1) & (dp != 0)] = 0
    cp = get_patch(img)
    wb, hb = x1 - x0, y1 - y0
    sz = (S, int(hb * S / wb)) if wb > hb else (int(wb * S / hb), S)
    s = sz[1] / float(hb) if hb > wb else sz[0] / float(wb)
    rz_d = cv2.resize(dp, sz, interpolation=cv2.INTER_NEAREST)
    rz_c = cv2.resize(cp, sz, interpolation=cv2.INTER_NEAREST)
    ox = int(np.floor(S / 2.0 - rz_d.shape[1] / 2.0))
    oy = int(np.floor(S / 2.0 - rz_d.shape[0] / 2.0))
    dcan = np.zeros((S, S), np.float32)
    dcan[oy : oy + rz_d.shape[0], ox : ox + rz_d.shape[1]] = rz_d
    ccan = np.zeros((S, S, 3), np.float32)
    ccan[oy : oy + rz_c.shape[0], ox : ox + rz_c.shape[1]] = rz_c
    M = np.array([[s, 0, -s * x0 + ox], [0, s, -s * y0 + oy], [0, 0, 1.0]])

    # normalize_img, step by step (float32)
    zc = np.float32(c[2])
    half = np.float32(cube[2] / 2.0)
    d = dcan.copy()
    premax = d.max()
    if cfg.max_value_quirk:
        d[d == premax] = zc + half
    d[d == 0] = zc + half
    d[d >= zc + half] = zc + half
    d[d <= zc - half] = zc - half
    d = (d - zc) / half

    # getpcl / depthToPCL
    fg = ~np.isclose(d, 1.0)
    rr, cc = np.nonzero(fg)
    z = d[fg].astype(np.float64) * (cube[2] / 2.0) + c[2]
    pix = np.stack([cc + 0.5, rr + 0.5, np.ones_like(z)], 0)
    full = np.linalg.inv(M) @ pix
    uu, vv = full[0] / full[2], full[1] / full[2]
    xyz = np.stack([(uu - cx) / fx * z, (vv - cy) / fy * z, z], -1)
    pts = (xyz - c) / (cube / 2.0)

    if (color_order == "rgb") == cfg.bgr:
        ccan = ccan[..., ::-1]
    return {
        "depth_mm": dcan,
        "depth": d.astype(np.float32),
        "rgb": np.ascontiguousarray(ccan.transpose(2, 0, 1)) / np.float32(255.0),
        "points": pts,
        "center": c,
        "M": M,
        "bounds": np.array([x0, x1, y0, y1]),
        "z_range": np.array([z0, z1]),
    }


# ---------------------------------------------------------------------------------------
# labels and the inverse mapping of predictions
# ---------------------------------------------------------------------------------------


def _mirror_rows(xyz_mm: torch.Tensor, batch: CropBatch) -> torch.Tensor:
    """Mirror (an involution) the rows of K×P×3 points (mm) whose hand is mirrored."""
    if not bool(batch.mirrored.any()):
        return xyz_mm
    cam = batch.cam.to(xyz_mm)
    mirrored = mirror_points_mm(xyz_mm, cam, batch.image_size[1])
    return torch.where(batch.mirrored.view(-1, 1, 1), mirrored, xyz_mm)


def labels_from_joints(joints_mm: torch.Tensor, batch: CropBatch) -> tuple[torch.Tensor, torch.Tensor]:
    """Training targets from GT joints K×21×3 (mm, real camera frame) (reference §3 "Augmentation", labels).

    Mirrored hands have their joints mirrored like the image (u ↦ W − 1 − u and re-lifted,
    reference §3 "Left hands"); then xyz_nl = (j − c)/(cube/2) and uvd_nl by projection
    through M (:func:`kpfusion_ros.geometry.xyz_nl_to_uvd_nl`). Returns (xyz_nl, uvd_nl),
    both K×21×3. The authors normalise xyz by cube_z/2 for all axes; with the isotropic
    cube (the only one they use) this is identical.
    """
    j = _mirror_rows(joints_mm.to(batch.center), batch)
    xyz_nl = mm_to_xyz_nl(j, batch.center, batch.cube)
    uvd_nl = xyz_nl_to_uvd_nl(xyz_nl, batch.center, batch.M, batch.cube, batch.cam, batch.crop_size)
    return xyz_nl, uvd_nl


def predictions_to_camera(xyz_nl: torch.Tensor, batch: CropBatch) -> tuple[torch.Tensor, torch.Tensor]:
    """Network output K×J×3 xyz_nl → (camera-frame metres K×J×3, full-image pixels K×J×2).

    xyz_mm = xyz_nl·cube/2 + center; mirrored hands are un-mirrored with the same
    u ↦ W − 1 − u re-lift that built their labels (so GT labels map back exactly; the
    1 px convention quirk of reference §7.13 cancels); pixels are the pinhole projection
    of the un-mirrored points with the original intrinsics. This is what the node publishes.
    """
    xyz_mm = _mirror_rows(xyz_nl_to_mm(xyz_nl.to(batch.center), batch.center, batch.cube), batch)
    uv = project(xyz_mm, batch.cam.to(xyz_mm))
    return xyz_mm / 1000.0, uv


# ---------------------------------------------------------------------------------------
# demo centre from a 2D box
# ---------------------------------------------------------------------------------------


def center_from_bbox(
    depth_mm: np.ndarray,
    bbox_xywh: ArrayLike,
    cam: ArrayLike,
    cfg: CenterConfig = CenterConfig(),
) -> tuple[np.ndarray, np.ndarray]:
    """Crop centre from a 2D box as the authors' demo does (reference §5 "Center").

    The box (x, y, w, h) in pixels is truncated to ints [⌊x⌋, ⌊x + w⌋) × [⌊y⌋, ⌊y + h⌋); the
    pixels with depth in [lower, upper] mm vote; the centre is their mean pixel (u, v)
    plus the box origin, and their mean depth. No vote: (x, y, fallback_z).
    QUIRK (``cfg.linspace_quirk``): the pixel offsets are ``linspace(0, w, w)``, i.e.
    i·w/(w − 1), not i. Returns (uvd (3,) pixels + mm, xyz (3,) mm camera frame).
    """
    x, y, w, h = _as_np(bbox_xywh, 4)[0]
    fx, fy, cx, cy = _as_np(cam, 4)[0]
    dep = np.asarray(depth_mm)
    x0, x1, y0, y1 = int(x), int(x + w), int(y), int(y + h)
    patch = dep[max(y0, 0) : max(y1, 0), max(x0, 0) : max(x1, 0)].astype(np.float64)
    ph, pw = patch.shape
    flag = (patch <= cfg.upper_mm) & (patch >= cfg.lower_mm)
    if cfg.linspace_quirk:
        xs, ys = np.linspace(0, pw, pw), np.linspace(0, ph, ph)
    else:
        xs, ys = np.arange(pw, dtype=np.float64), np.arange(ph, dtype=np.float64)
    if flag.any():
        rr, cc = np.nonzero(flag)
        uvd = np.array([xs[cc].mean() + x, ys[rr].mean() + y, patch[flag].mean()])
        if uvd[2] <= 0:
            uvd[2] = cfg.fallback_z_mm
    else:
        uvd = np.array([x, y, cfg.fallback_z_mm])
    xyz = np.array([(uvd[0] - cx) * uvd[2] / fx, (uvd[1] - cy) * uvd[2] / fy, uvd[2]])
    return uvd, xyz
