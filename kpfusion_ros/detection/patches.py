"""Metric depth patches around 3D candidate centres: the hand verifier's input (:mod:`.verifier`).

A patch is an S×S (default 64×64) view of a cube of ``cube_mm`` (default 300 mm) centred on a
candidate's 3D centre c (camera frame, mm), normalised like the pose network's crop (reference §3
"Depth normalisation"), so that a hand looks the same at any distance and any camera:

* grid: the S×S sample points span ``u_c ± (cube/2)·fx/z_c`` and ``v_c ± (cube/2)·fy/z_c`` around
  the projection (u_c, v_c) of c, at pixel centres ``(j + ½)/S``;
* depth: each sample reads the **nearest valid depth of the image block it covers** (a block-min
  pyramid of the frame, level ⌊log2(step)⌋ for a sample step of ``step`` pixels), so a sample
  never invents a depth and small sensor holes do not punch holes in the patch (the nearest
  neighbour of a 640-wide image, with one sample every ~5 pixels, would read them);
* channel 0: ``clamp((d − z_c)/(cube/2), −1, 1)``; no depth, or farther than ``z_c + cube/2``
  (background), is +1 (the network's crop does the same);
* channel 1: 1 where the block has a valid depth, 0 where it has none (a hole), −1 outside the
  image (where the arm leaves the frame, a border is evidence).

Vectorised: one pyramid per frame (O(H·W)), then one gather per pyramid level for all K
patches (no loop over candidates or pixels). Numpy on the host (the verifier is small enough for the CPU).
"""

from __future__ import annotations

import math
from typing import Optional, Sequence, Union

import numpy as np
import torch

from kpfusion_ros.camera import CameraLike, camera_array

__all__ = ["PATCH_SIZE", "PATCH_CUBE_MM", "PATCH_CHANNELS", "depth_pyramid", "extract_patches", "verifier_patches",
           "flip_patches"]

PATCH_SIZE = 64
PATCH_CUBE_MM = 300.0
PATCH_CHANNELS = 2
#: Pyramid levels (block sizes 1, 2, 4, …, 2**(PYRAMID_LEVELS−1) pixels).
PYRAMID_LEVELS = 5


def depth_pyramid(depth_mm: Union[np.ndarray, torch.Tensor], lo_mm: float, hi_mm: float,
                  levels: int = PYRAMID_LEVELS) -> list[np.ndarray]:
    """Block-min pyramid of a depth image: level l is ⌈H/2^l⌉×⌈W/2^l⌉ float32, the nearest depth in
    ``[lo_mm, hi_mm]`` of each 2^l×2^l block, +inf where the block has none (a partial block at the
    right/bottom edge counts what it has).

    ``depth_mm``: H×W (uint16 or float mm; 0, NaN, ±inf and values outside the range are invalid).
    """
    d = depth_mm.detach().cpu().numpy() if isinstance(depth_mm, torch.Tensor) else np.asarray(depth_mm)
    if d.ndim != 2:
        raise ValueError(f"depth must be H×W, got shape {d.shape}")
    z = d.astype(np.float32)  # a copy (also of float32 input): invalid values are overwritten
    with np.errstate(invalid="ignore"):
        z[~((z >= lo_mm) & (z <= hi_mm))] = np.inf  # NaN fails both comparisons
    out = [z]
    for _ in range(1, levels):
        h, w = z.shape
        if h < 2 or w < 2:
            break
        if h % 2 or w % 2:  # pad the odd row/column with +inf: the partial block keeps what it has
            z = np.pad(z, ((0, h % 2), (0, w % 2)), constant_values=np.inf)
        z = np.minimum(np.minimum(z[0::2, 0::2], z[1::2, 0::2]), np.minimum(z[0::2, 1::2], z[1::2, 1::2]))
        out.append(z)
    return out


def extract_patches(depth_mm: Union[np.ndarray, torch.Tensor], cam: CameraLike, centres_mm,
                    size: int = PATCH_SIZE, cube_mm: float = PATCH_CUBE_MM,
                    pyramid: Optional[Sequence[np.ndarray]] = None,
                    valid_range_mm: tuple[float, float] = (1.0, 10000.0)) -> torch.Tensor:
    """K×2×S×S float32 CPU tensor: the patches of one frame around ``centres_mm`` (K×3, camera frame mm).

    ``cam``: the depth image's camera (any form :func:`~kpfusion_ros.camera.camera_array` takes);
    ``pyramid``: :func:`depth_pyramid` of the frame when the caller has it (several calls per frame);
    ``valid_range_mm``: depths counted as measured. A centre with z ≤ 1 mm or non-finite gives a patch
    of background (+1, mask −1). See the module docstring for the channels.
    """
    c = np.asarray(centres_mm, dtype=np.float64).reshape(-1, 3)
    K, S = c.shape[0], int(size)
    if pyramid is None:
        pyramid = depth_pyramid(depth_mm, *valid_range_mm)
    if K == 0:
        return torch.zeros((0, PATCH_CHANNELS, S, S), dtype=torch.float32)
    H, W = pyramid[0].shape
    fx, fy, cx, cy = camera_array(cam, 1)[0]
    z = c[:, 2]
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(c).all(axis=1) & (z > 1.0)
    zs = np.where(ok, z, 1.0)
    u0 = np.where(ok, c[:, 0] * fx / zs + cx, 0.0)
    v0 = np.where(ok, c[:, 1] * fy / zs + cy, 0.0)
    hx = 0.5 * cube_mm * fx / zs  # half extent, pixels
    hy = 0.5 * cube_mm * fy / zs
    t = (np.arange(S) + 0.5) / S * 2.0 - 1.0  # sample positions in (−1, 1)
    ui = np.rint(u0[:, None] + hx[:, None] * t[None, :]).astype(np.int64)  # K×S columns
    vi = np.rint(v0[:, None] + hy[:, None] * t[None, :]).astype(np.int64)  # K×S rows
    step = 2.0 * np.maximum(hx, hy) / S
    lev = np.clip(np.floor(np.log2(np.maximum(step, 1.0))), 0, len(pyramid) - 1).astype(np.int64)
    col_in = (ui >= 0) & (ui < W)
    row_in = (vi >= 0) & (vi < H)
    inside = row_in[:, :, None] & col_in[:, None, :] & ok[:, None, None]  # K×S×S
    zpatch = np.empty((K, S, S), np.float32)
    for L in np.unique(lev):
        sel = lev == L
        img = pyramid[int(L)]
        h, w = img.shape
        cols = np.clip(ui[sel] >> L, 0, w - 1)
        rows = np.clip(vi[sel] >> L, 0, h - 1)
        zpatch[sel] = img[rows[:, :, None], cols[:, None, :]]
    zpatch[~inside] = np.inf
    has = np.isfinite(zpatch)
    zc = zs.astype(np.float32)[:, None, None]
    half = np.float32(0.5 * cube_mm)
    out = np.empty((K, PATCH_CHANNELS, S, S), np.float32)
    np.clip((np.where(has, zpatch, zc + 2 * half) - zc) / half, -1.0, 1.0, out=out[:, 0])
    out[:, 1] = np.where(inside, has, np.float32(-1.0))
    return torch.from_numpy(out)


def verifier_patches(depth_mm: Union[np.ndarray, torch.Tensor], cam: CameraLike, centres_mm, spec,
                     pyramid: Optional[Sequence[np.ndarray]] = None) -> torch.Tensor:
    """The input of a verifier with :class:`~.verifier.VerifierSpec` ``spec`` around ``centres_mm`` (K×3 mm):
    the hand patch (K×2×S×S, ``spec.cube_mm``), followed, when ``spec.context_scale`` > 0, by the context
    patch (``spec.cube_mm × spec.context_scale``, same size) → K×4×S×S. The one place both the localiser
    and the verifier's training build it."""
    if pyramid is None:
        pyramid = depth_pyramid(depth_mm, 1.0, 10000.0)
    parts = [extract_patches(depth_mm, cam, centres_mm, size=spec.patch_size, cube_mm=spec.cube_mm, pyramid=pyramid)]
    if spec.context_scale > 0:
        parts.append(extract_patches(depth_mm, cam, centres_mm, size=spec.patch_size,
                                     cube_mm=spec.cube_mm * spec.context_scale, pyramid=pyramid))
    return torch.cat(parts, dim=1)


def flip_patches(patches: torch.Tensor) -> torch.Tensor:
    """Patches mirrored left ↔ right (columns reversed): a right hand becomes a left hand."""
    return torch.flip(patches, dims=[-1])
