"""Camera and crop geometry: the single place where coordinates change frame.

Frames and units (reference §0 "Notation", §3 "Intrinsics after crop"):

* camera frame: x right, y down, z forward (the REP 103 optical frame), millimetres
  inside the core; only its results (:class:`~kpfusion_ros.hand.HandEstimate`, from
  :func:`~kpfusion_ros.preprocessing.predictions_to_camera`) are in metres, as ROS publishes them;
* full-image pixels (u, v) of the color image, pixel centres at integer + 0.5 in
  the authors' convention where noted;
* crop pixels: full-image pixels mapped by the 3×3 affine ``M`` of the crop
  (:mod:`kpfusion_ros.preprocessing` builds it), a ``crop_size``² image;
* ``uvd_nl``: u, v = crop_px / (crop_size/2) − 1 and d = (z − c_z)/(cube_z/2);
* ``xyz_nl``: (xyz − center)/(cube/2), per axis.

``cam`` is (fx, fy, cx, cy) of the *original* image; crops never change it, every
conversion goes through ``M⁻¹`` and the pinhole model as the authors' loader does
(reference §1.2 steps 1–4, ``uvd_nl2xyznl_tensor`` / ``xyz_nl2uvdnl_tensor``).

All functions are batched torch (B leading) and differentiable; ``cam`` is the B×4 tensor
of (fx, fy, cx, cy) rows (:mod:`kpfusion_ros.camera` gives them). No per-point Python loops.
"""

from __future__ import annotations

import torch

__all__ = [
    "apply_homography",
    "project",
    "backproject",
    "uvd_nl_to_xyz_nl",
    "xyz_nl_to_uvd_nl",
    "xyz_nl_to_mm",
    "mm_to_xyz_nl",
    "grid_uv_nl",
]


def apply_homography(M: torch.Tensor, uv: torch.Tensor) -> torch.Tensor:
    """Map points ``uv`` (B×P×2) by 3×3 matrices ``M`` (B×3×3), with the homogeneous divide.

    The crop matrices are affine (last row 0 0 1), for which the divide is by one;
    the general form is kept so that perspective re-warps stay exact.
    """
    ones = torch.ones_like(uv[..., :1])
    h = torch.cat([uv, ones], dim=-1) @ M.transpose(-1, -2)
    return h[..., :2] / h[..., 2:3]


def project(xyz: torch.Tensor, cam: torch.Tensor) -> torch.Tensor:
    """Pinhole projection of camera-frame points (B×P×3) to pixels (B×P×2).

    ``cam`` is B×4 (fx, fy, cx, cy). Points at z = 0 give non-finite pixels; callers
    that may meet them mask first.
    """
    fx, fy, cx, cy = (cam[:, i].view(-1, 1) for i in range(4))
    z = xyz[..., 2]
    u = xyz[..., 0] * fx / z + cx
    v = xyz[..., 1] * fy / z + cy
    return torch.stack([u, v], dim=-1)


def backproject(uv: torch.Tensor, z: torch.Tensor, cam: torch.Tensor) -> torch.Tensor:
    """Pixels (B×P×2) at depths z (B×P) to camera-frame points (B×P×3): x = (u − cx)·z/fx."""
    fx, fy, cx, cy = (cam[:, i].view(-1, 1) for i in range(4))
    x = (uv[..., 0] - cx) * z / fx
    y = (uv[..., 1] - cy) * z / fy
    return torch.stack([x, y, z], dim=-1)


def xyz_nl_to_mm(xyz_nl: torch.Tensor, center: torch.Tensor, cube: torch.Tensor) -> torch.Tensor:
    """xyz_nl (B×P×3) → camera-frame millimetres: xyz_nl·cube/2 + center."""
    return xyz_nl * (cube.unsqueeze(1) / 2) + center.unsqueeze(1)


def mm_to_xyz_nl(xyz: torch.Tensor, center: torch.Tensor, cube: torch.Tensor) -> torch.Tensor:
    """Camera-frame millimetres (B×P×3) → xyz_nl: (xyz − center)/(cube/2)."""
    return (xyz - center.unsqueeze(1)) / (cube.unsqueeze(1) / 2)


def uvd_nl_to_xyz_nl(
    uvd_nl: torch.Tensor,
    center: torch.Tensor,
    M: torch.Tensor,
    cube: torch.Tensor,
    cam: torch.Tensor,
    crop_size: int = 128,
) -> torch.Tensor:
    """uvd_nl (B×P×3) → xyz_nl (B×P×3) through M⁻¹ and the intrinsics (reference §1.2).

    1. crop px = (uv_nl + 1)·crop_size/2, z = d·cube_z/2 + c_z;
    2. full-image px = M⁻¹ · crop px;
    3. x = (u − cx)·z/fx, y = (v − cy)·z/fy;
    4. (xyz − center)/(cube/2).
    """
    half = crop_size / 2.0
    uv_crop = (uvd_nl[..., :2] + 1.0) * half
    z = uvd_nl[..., 2] * (cube[:, 2:3] / 2) + center[:, 2:3]
    uv_full = apply_homography(torch.linalg.inv(M), uv_crop)
    xyz = backproject(uv_full, z, cam)
    return mm_to_xyz_nl(xyz, center, cube)


def xyz_nl_to_uvd_nl(
    xyz_nl: torch.Tensor,
    center: torch.Tensor,
    M: torch.Tensor,
    cube: torch.Tensor,
    cam: torch.Tensor,
    crop_size: int = 128,
) -> torch.Tensor:
    """xyz_nl (B×P×3) → uvd_nl (B×P×3): the inverse of :func:`uvd_nl_to_xyz_nl`."""
    half = crop_size / 2.0
    xyz = xyz_nl_to_mm(xyz_nl, center, cube)
    uv_full = project(xyz, cam)
    uv_crop = apply_homography(M, uv_full)
    d = (xyz[..., 2] - center[:, 2:3]) / (cube[:, 2:3] / 2)
    return torch.cat([uv_crop / half - 1.0, d.unsqueeze(-1)], dim=-1)


def grid_uv_nl(size: int, device=None, dtype=torch.float32) -> torch.Tensor:
    """Pixel-centre coordinates of a size×size feature grid in uv_nl, (size², 2), row-major.

    Channel 0 is the column (u), channel 1 the row (v): u = 2(col + 0.5)/size − 1
    (reference §1.2 "Pixel coordinates").
    """
    c = (torch.arange(size, device=device, dtype=dtype) + 0.5) * (2.0 / size) - 1.0
    vv, uu = torch.meshgrid(c, c, indexing="ij")
    return torch.stack([uu.reshape(-1), vv.reshape(-1)], dim=-1)


# ---------------------------------------------------------------------------------------
# Left-hand mirroring (reference §3 "Left hands", §7.13) and crop intrinsics (§3
# "Intrinsics after crop"). Added by the preprocessing module; same conventions as above.
# ---------------------------------------------------------------------------------------

__all__ += ["mirror_u", "mirror_points_mm", "crop_intrinsics"]


def mirror_u(uv: torch.Tensor, width: int | torch.Tensor) -> torch.Tensor:
    """Mirror full-image pixels horizontally: u ↦ W − 1 − u, v unchanged (reference §3 "Left hands").

    ``uv`` is (…×2); ``width`` an int or a tensor broadcastable to ``uv[..., 0]``.
    This is an involution. It is the authors' map for joints; the *image* is mirrored by
    reversing its columns, which under the pixel-centre (+0.5) convention used when
    lifting crop pixels is u ↦ W − u: the two differ by 1 px (quirk kept on purpose,
    reference §7.13, so that labels and predictions match what the network was trained on).
    """
    u = (width - 1) - uv[..., 0]
    return torch.stack([u, uv[..., 1]], dim=-1)


def mirror_points_mm(xyz: torch.Tensor, cam: torch.Tensor, width: int | torch.Tensor) -> torch.Tensor:
    """Mirror camera-frame points (B×P×3, mm) as the authors do for left hands.

    Project with ``cam`` (B×4), mirror the pixel column (:func:`mirror_u`), and re-lift
    with the *same* intrinsics and the same depth (reference §3 "Left hands").
    x' = (W − 1 − 2·cx)·z/fx − x; an involution, so it also un-mirrors.
    """
    # Closed form of project → mirror_u → backproject: identical where z ≠ 0 and finite at z = 0
    # (where the projection itself is 0/0), so degenerate centres stay finite.
    fx, cx = cam[:, 0].view(-1, 1), cam[:, 2].view(-1, 1)
    x = (torch.as_tensor(width, dtype=xyz.dtype, device=xyz.device) - 1 - 2 * cx) * xyz[..., 2] / fx - xyz[..., 0]
    return torch.stack([x, xyz[..., 1], xyz[..., 2]], dim=-1)


def crop_intrinsics(M: torch.Tensor, cam: torch.Tensor) -> torch.Tensor:
    """Equivalent pinhole intrinsics of the crop, K' = M·K (reference §3 "Intrinsics after crop").

    ``M`` is B×3×3 affine with isotropic scale s and translation t; returns B×4
    (s·fx, s·fy, s·cx + t_x, s·cy + t_y). Projecting with these equals ``M`` ∘ ``project``.
    """
    s_x, s_y = M[:, 0, 0], M[:, 1, 1]
    fx, fy, cx, cy = cam.unbind(-1)
    return torch.stack(
        [s_x * fx, s_y * fy, s_x * cx + M[:, 0, 2], s_y * cy + M[:, 1, 2]], dim=-1
    )
