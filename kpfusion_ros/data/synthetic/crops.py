"""Render hand crops directly: cast only the rays of each S×S network crop.

A training sample needs one S×S crop per hand, not the frame. The crop of the authors'
procedure (:func:`kpfusion_ros.preprocessing.crop_hands`) reads, for canvas pixel
(r, c), the full-image pixel (rows[r], cols[c]) that OpenCV's nearest resize picks from
the cube's projected bounds (or nothing: zero padding, outside the image). Here the
rays of exactly those pixel centres are cast (a separable per-crop grid,
:func:`~kpfusion_ros.data.synthetic.render.cast` with ``us``/``vs``), so the clean
depth and colour of a rendered crop equal those of the crop cut from the full rendered
frame of the same scene (checked by the tests). A left hand's crop reads the mirrored
frame, i.e. the original columns W − 1 − c, cast in increasing order and flipped back.

Sensor defects are then applied on the crop canvas, where one canvas pixel stands for
``1 / scale`` full-resolution pixels (``scale`` = S / bound extent): effects that live on
full-resolution neighbourhoods (edge bands, flying pixels) are therefore statistically,
not pixel-for-pixel, those of the full frame (documented tolerance in the tests).

Steps 3–6 of the crop (z threshold, normalisation, point sampling) are the shared ones
of :mod:`kpfusion_ros.preprocessing`.
"""

from __future__ import annotations

import numpy as np
import torch

from ...geometry import mirror_points_mm
from ...preprocessing import CropConfig, crop_geometry, crop_batch_from_canvas, nearest_indices, sensed_share
from .render import cast, shade
from .scene import SceneSpec, scene_primitives

__all__ = ["crop_grids", "render_hand_crops"]


def crop_grids(geo, crop_size: int, height: int, width: int, mirror: np.ndarray):
    """Per-crop ray grids in original-image pixel coordinates and the canvas validity.

    Returns (us K×S float64 non-decreasing, vs K×S, col_ok K×S bool, row_ok K×S bool, flip K bool):
    canvas column c of crop k is the ray through us[k, c'] with c' = S − 1 − c when ``flip[k]``.
    """
    S = int(crop_size)
    out = []
    for axis, limit in ((0, width), (1, height)):
        start = geo.bounds[:, 2 * axis]
        extent = np.maximum(geo.bounds[:, 2 * axis + 1] - start, 1)
        size = geo.size[:, axis]
        off = geo.offset[:, axis]
        canvas = np.arange(S, dtype=np.int64)[None, :] - off[:, None]
        inside = (canvas >= 0) & (canvas < size[:, None])
        table = nearest_indices(extent, size, S)
        patch = np.take_along_axis(table, np.clip(canvas, 0, size[:, None] - 1), axis=1)
        src = start[:, None] + patch  # monotone, padding clamped to the patch ends
        ok = inside & (src >= 0) & (src < limit)
        out.append((src.astype(np.float64), ok))
    (us, col_ok), (vs, row_ok) = out
    mir = np.asarray(mirror, bool)
    # mirrored crops read original columns W − 1 − c: reverse so that the grid increases
    us = np.where(mir[:, None], (width - 1 - us)[:, ::-1], us)
    col_ok = np.where(mir[:, None], col_ok[:, ::-1], col_ok)
    return us, vs, col_ok, row_ok, mir


def render_hand_crops(scenes: list[SceneSpec], hand: list[int], centers_mm: np.ndarray, cube_mm: np.ndarray,
                      crop_cfg: CropConfig, finish, generator: torch.Generator, device="cpu"):
    """One crop per (scene, hand) sample, rendered directly (see module docstring).

    ``centers_mm`` K×3 (real camera frame), ``cube_mm`` K×3; the crop of a left hand is mirrored
    like :func:`~kpfusion_ros.preprocessing.crop_hands`. ``finish(z, gbuffer, rgb, pitch)`` turns the
    clean render into (depth mm K×S×S float, colour K×S×S×3 uint8) — the sensor model; ``pitch``
    K is the full-resolution pixels one canvas pixel stands for. Returns (CropBatch, labels, sensed):
    labels are the scenes' HandLabels of the chosen hands, sensed (K) the share of each hand's visible
    pixels in its crop that the sensor model gave a depth (:func:`~kpfusion_ros.preprocessing.sensed_share`).
    """
    device = torch.device(device)
    K = len(scenes)
    S = int(crop_cfg.crop_size)
    H, W = scenes[0].height, scenes[0].width
    rows, labels = zip(*(scene_primitives(s) for s in scenes))
    from .generator import _stack_prims, light_tensors
    prims = _stack_prims(list(rows), device, torch.float32)
    cam = np.stack([s.cam for s in scenes]).astype(np.float64)
    lab = [labels[k][hand[k]] for k in range(K)]
    mirror = np.array([not l.is_right for l in lab])
    c = np.asarray(centers_mm, np.float64).reshape(K, 3).copy()
    cube = np.asarray(cube_mm, np.float64).reshape(K, 3)
    if mirror.any():
        c[mirror] = mirror_points_mm(torch.from_numpy(c[mirror]).unsqueeze(1), torch.from_numpy(cam[mirror]),
                                     W)[:, 0].numpy()
    geo = crop_geometry(c, cube, cam, S)
    us, vs, col_ok, row_ok, flip = crop_grids(geo, S, H, W, mirror)
    cam_t = torch.as_tensor(cam, dtype=torch.float32, device=device)
    gb = cast(prims, cam_t, S, S, us=torch.as_tensor(us, device=device), vs=torch.as_tensor(vs, device=device))
    L = light_tensors(scenes, device)
    rgb = shade(gb, *L)
    pitch = torch.as_tensor(1.0 / geo.scale, dtype=torch.float32, device=device)
    depth, color = finish(gb.z, gb, rgb, pitch)
    ok = torch.as_tensor(row_ok[:, :, None] & col_ok[:, None, :], device=device)
    depth = torch.where(ok, depth.to(torch.float32), torch.zeros((), device=device))
    color = torch.where(ok.unsqueeze(-1), color, torch.zeros((), dtype=color.dtype, device=device))
    own = gb.inst == torch.as_tensor(hand, dtype=gb.inst.dtype, device=device).view(K, 1, 1)
    sensed = sensed_share(depth, own & ok)
    fl = torch.as_tensor(flip, device=device).view(K, 1, 1)
    depth = torch.where(fl, depth.flip(-1), depth)
    color = torch.where(fl.unsqueeze(-1), color.flip(-2), color)
    batch = crop_batch_from_canvas(depth, color, geo, c, cube, cam, mirror, crop_cfg, generator, (H, W), device)
    return batch, lab, sensed
