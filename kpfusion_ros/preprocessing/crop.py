"""The batched crop: K hands of one RGB-D frame → the network's inputs in one call (reference §3).

:func:`crop_hands` runs on CPU or CUDA with no per-pixel or per-hand Python loops: the per-hand
geometry comes from :mod:`.bounds` (host, float64), every pixel operation is one gather on the
device, and the depth crop is normalised and turned into points by :mod:`.depth_points`. The
tests check it pixel for pixel against a plain numpy/cv2 oracle of the authors' procedure
(``test/helpers/reference_crop.py``).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Optional, Union

import numpy as np
import torch

from kpfusion_ros.camera import CameraLike, camera_array
from kpfusion_ros.geometry import mirror_points_mm

from .bounds import ArrayLike, CropGeometry, as_rows, canvas_source_indices, crop_geometry
from .config import CropConfig
from .depth_points import foreground_points_mask, lift_pixels_inv, normalize_depth, sample_indices

__all__ = ["CropBatch", "crop_hands", "crop_batch_from_canvas"]


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
    cam: CameraLike,
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
    the *real* (un-mirrored) frame; cam: the colour camera (any form
    :func:`~kpfusion_ros.camera.camera_array` takes: :class:`~kpfusion_ros.camera.CameraIntrinsics`,
    (fx, fy, cx, cy), a 3×3 K, or K×4 rows);
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

    c_np = as_rows(centers_mm, 3)
    K = c_np.shape[0]
    cam_np = np.array(camera_array(cam, K), copy=True)
    cube_np = np.array(as_rows(cfg.cube_mm if cube_mm is None else cube_mm, 3, K), copy=True)
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
    rows = canvas_source_indices(geo, S, np.full(K, H), axis=1)  # K×S
    cols = canvas_source_indices(geo, S, np.full(K, W), axis=0)  # K×S
    cols = np.where((cols >= 0) & mir[:, None], W - 1 - cols, cols)  # read the mirrored frame
    rows[~valid] = -1

    rows_t = torch.from_numpy(rows).to(device)
    cols_t = torch.from_numpy(cols).to(device)
    inside = (rows_t >= 0).unsqueeze(2) & (cols_t >= 0).unsqueeze(1)  # K×S×S
    flat = rows_t.clamp(min=0).unsqueeze(2) * W + cols_t.clamp(min=0).unsqueeze(1)

    # depth: gather (K×S×S; indexing, as take() has no uint16 kernel); colour: one gather into the
    # network's channel order
    dcrop = dep.reshape(-1)[flat]
    if color_order not in ("rgb", "bgr"):
        raise ValueError("color_order must be 'rgb' or 'bgr'")
    C = int(col.shape[2]) if col.dim() == 3 else 1
    if C != 3:
        raise ValueError(f"color must be H×W×3, got shape {tuple(col.shape)}")
    order = (2, 1, 0) if (color_order == "rgb") == cfg.bgr else (0, 1, 2)
    chan = torch.tensor(order, device=device).view(1, 3, 1, 1)
    src = col.reshape(-1)
    if src.dtype == torch.uint16:  # no take() kernel for uint16
        src = src.to(torch.int32)
    rgb = src.take(flat.unsqueeze(1) * 3 + chan)  # K×3×S×S
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
    ``center`` K×3 mm in the frame the network sees (mirrored for mirrored hands), ``cube`` K×3,
    ``cam`` K×4. Used by :func:`crop_hands` (a canvas gathered from a frame) and by the renderer
    (a canvas rendered directly, :mod:`kpfusion_ros.data.synthetic.crops`).
    """
    device = torch.device(device)
    K = depth_canvas.shape[0]
    dt, N = cfg.dtype, int(cfg.num_points)
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
        rgb = color_canvas[..., [2, 1, 0] if cfg.bgr else [0, 1, 2]].permute(0, 3, 1, 2)
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
    pcl = lift_pixels_inv(dnl, src, center_t, torch.from_numpy(np.linalg.inv(geo.M)).to(device), cube_t, cam_t)
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
