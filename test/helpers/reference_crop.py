"""The tests' oracle for the batched crop: the authors' test-time crop of one hand, written plainly.

numpy and ``cv2.resize`` only (no torch), one hand at a time, step by step as the authors' code
does it; ``test/test_preprocessing.py`` checks :func:`kpfusion_ros.preprocessing.crop_hands`
against it pixel for pixel. Not meant for speed, and not part of the library.
"""

from __future__ import annotations

import cv2
import numpy as np

from kpfusion_ros.camera import CameraIntrinsics
from kpfusion_ros.preprocessing import CropConfig, crop_bounds


def reference_crop(
    color: np.ndarray,
    depth_mm: np.ndarray,
    center_mm,
    cam,
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
    S = int(cfg.crop_size)
    cam_np = CameraIntrinsics.of(cam).as_array()
    fx, fy, cx, cy = cam_np
    cube = np.asarray(cfg.cube_mm, dtype=np.float64)
    c = np.asarray(center_mm, dtype=np.float64).reshape(3).copy()
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

