"""Training augmentation (reference §3 "Augmentation"): exactly one of 'rot', 'com', 'sc',
'none' per sample, chosen uniformly.

Because :mod:`.data` crops every hand from the full rendered frame on the fly:

* **com** (3D centre shift U(−10, 10) mm per axis; ``DataConfig.com_shift_mm`` widens it) is done by cropping at the shifted centre
  and **sc** (cube × U[0.8, 1.2]) by cropping with the scaled cube. The authors re-warp the
  existing 128² crop with ``warpPerspective(M_new·M⁻¹)`` (nearest), which loses the pixels
  outside the old crop (zero borders when the new crop is larger) and resamples twice; a
  fresh crop from the frame gives exactly the crop the new centre/cube defines, with the
  same labels ((joints − c)/(cube/2)) — equivalent where the re-warp is exact, better elsewhere.
* **rot** is done here on the crops as the reference says: θ ~ U(−180°, 180°); the
  crop is rotated about the crop-pixel position of the centre (M·uv_c; the authors use the
  canvas centre (64, 64), which differs from it by the bounds' rounding, < 1 px) with nearest
  sampling (background +1 for depth, 0 for colour); the joints are rotated by the same θ in
  full-image uv about the centre's uv and re-lifted with their own depth; **M is not changed**;
  the point cloud is re-sampled from the rotated depth crop.

All tensors stay on their device; no Python loop over samples.
"""

from __future__ import annotations

import math
from typing import Optional

import torch

from ..geometry import apply_homography, backproject, mm_to_xyz_nl, project, xyz_nl_to_mm, xyz_nl_to_uvd_nl
from ..preprocessing import depth_to_points, sample_points

AUG_MODES = ("rot", "com", "sc", "none")
ROT_RANGE_DEG = 180.0
COM_RANGE_MM = 10.0
SCALE_RANGE = 0.2


def _rot(theta: torch.Tensor) -> torch.Tensor:
    c, s = torch.cos(theta), torch.sin(theta)
    return torch.stack([torch.stack([c, -s], -1), torch.stack([s, c], -1)], -2)  # K×2×2


def rotate_crops(rgb: torch.Tensor, depth: torch.Tensor, center: torch.Tensor, M: torch.Tensor,
                 cube: torch.Tensor, cam: torch.Tensor, xyz_nl: torch.Tensor, theta: torch.Tensor,
                 num_points: int, generator: Optional[torch.Generator] = None):
    """Rotate K crops and their labels by ``theta`` (K, radians; image u right, v down).

    rgb K×3×S×S, depth K×1×S×S (normalised), xyz_nl K×J×3 labels in the crop's frame.
    Returns (rgb, depth, pcl K×N×3, xyz_nl, uvd_nl) — M, center, cube unchanged.
    """
    K, _, S, _ = depth.shape
    dt, dev = depth.dtype, depth.device
    theta = theta.to(device=dev, dtype=dt)
    R = _rot(theta)
    # centre in full-image px and in crop px
    uv_c = project(center.unsqueeze(1), cam)                      # K×1×2
    uv_c_crop = apply_homography(M, uv_c)                          # K×1×2
    # --- image: out(q) = in(c + R(−θ)(q − c)), nearest on pixel centres
    r = torch.arange(S, device=dev, dtype=dt) + 0.5
    vv, uu = torch.meshgrid(r, r, indexing="ij")
    q = torch.stack([uu.reshape(-1), vv.reshape(-1)], -1).unsqueeze(0) - uv_c_crop  # K×S²×2
    src = q @ R + uv_c_crop                                        # R(−θ)·q = (Rᵀq) → row-vector q·R
    col = torch.floor(src[..., 0]).long()
    row = torch.floor(src[..., 1]).long()
    inside = (col >= 0) & (col < S) & (row >= 0) & (row < S)
    idx = (row.clamp(0, S - 1) * S + col.clamp(0, S - 1))          # K×S²
    d_new = depth.reshape(K, S * S).gather(1, idx)
    d_new = torch.where(inside, d_new, torch.ones_like(d_new)).reshape(K, 1, S, S)
    c_new = rgb.reshape(K, 3, S * S).gather(2, idx.unsqueeze(1).expand(K, 3, S * S))
    c_new = (c_new * inside.unsqueeze(1).to(c_new.dtype)).reshape(K, 3, S, S)
    # --- labels: rotate in full-image uv about uv_c, re-lift with own depth
    j_mm = xyz_nl_to_mm(xyz_nl, center, cube)
    uv = project(j_mm, cam)
    uv_r = (uv - uv_c) @ R.transpose(1, 2) + uv_c
    j_new = backproject(uv_r, j_mm[..., 2], cam)
    xyz_new = mm_to_xyz_nl(j_new, center, cube)
    uvd_new = xyz_nl_to_uvd_nl(xyz_new, center, M, cube, cam, S)
    pts, mask = depth_to_points(d_new[:, 0], center, M, cube, cam)
    pcl = sample_points(pts, mask, num_points, generator)
    return c_new, d_new, pcl, xyz_new, uvd_new



def rotate_selected(crops, xyz_nl: torch.Tensor, uvd_nl: torch.Tensor, rot: torch.Tensor, theta: torch.Tensor,
                    num_points: int, generator: Optional[torch.Generator] = None):
    """:func:`rotate_crops` applied to the crops where ``rot`` (K bools) is set, by their ``theta``
    (K): the crop's rgb, depth and pcl are replaced in place; returns the labels (xyz_nl, uvd_nl),
    new tensors when any crop rotated."""
    if not bool(rot.any()):
        return xyz_nl, uvd_nl
    dev = crops.depth.device
    i = rot.to(dev).nonzero()[:, 0]
    r_rgb, r_d, r_pcl, r_xyz, r_uvd = rotate_crops(
        crops.rgb[i], crops.depth[i], crops.center[i], crops.M[i], crops.cube[i], crops.cam[i], xyz_nl[i],
        theta.to(dev)[i], num_points, generator)
    crops.rgb[i], crops.depth[i], crops.pcl[i] = r_rgb, r_d, r_pcl
    xyz_nl, uvd_nl = xyz_nl.clone(), uvd_nl.clone()
    xyz_nl[i], uvd_nl[i] = r_xyz, r_uvd
    return xyz_nl, uvd_nl


def sample_modes(k: int, generator: torch.Generator, modes=AUG_MODES) -> list[str]:
    """One mode per sample, uniformly (the authors' ``random.choice``)."""
    idx = torch.randint(len(modes), (k,), generator=generator).tolist()
    return [modes[i] for i in idx]


def sample_params(k: int, generator: torch.Generator, com_shift_mm: float = COM_RANGE_MM):
    """(θ K radians, centre shift K×3 mm within ±``com_shift_mm``, cube scale K) drawn for every sample."""
    theta = (torch.rand(k, generator=generator, dtype=torch.float64) * 2 - 1) * math.radians(ROT_RANGE_DEG)
    shift = (torch.rand(k, 3, generator=generator, dtype=torch.float64) * 2 - 1) * com_shift_mm
    scale = (1 + (torch.rand(k, generator=generator, dtype=torch.float64) * 2 - 1) * SCALE_RANGE).abs()
    return theta, shift, scale


def randomize_rgb(rgb: torch.Tensor, generator: torch.Generator, p_drop: float = 0.2, jitter: bool = True) -> torch.Tensor:
    """Colour randomisation of K×3×S×S crops in [0, 1] (sim-to-real: the network must not trust colour).

    Per sample: with probability ``p_drop`` the colour crop is blanked (zeros: only depth can carry the
    pose); otherwise (``jitter``) a random gain (×0.6–1.4), contrast about the crop mean (×0.7–1.3),
    per-channel gains (×0.85–1.15), a random channel mix (10 %: channels permuted) and grey (10 %).
    Draws from ``generator`` (CPU); everything else stays on the crops' device.
    """
    K = rgb.shape[0]
    dev, dt = rgb.device, rgb.dtype
    r = lambda *s: torch.rand(*s, generator=generator).to(device=dev, dtype=dt)  # noqa: E731
    out = rgb
    if jitter:
        gain = (0.6 + 0.8 * r(K)).view(K, 1, 1, 1) * (0.85 + 0.3 * r(K, 3)).view(K, 3, 1, 1)
        mean = out.mean(dim=(1, 2, 3), keepdim=True)
        contrast = (0.7 + 0.6 * r(K)).view(K, 1, 1, 1)
        out = ((out - mean) * contrast + mean) * gain
        perm = torch.stack([torch.randperm(3, generator=generator) for _ in range(K)]).to(dev)
        do_perm = (r(K) < 0.1).view(K, 1, 1, 1)
        out = torch.where(do_perm, torch.gather(out, 1, perm.view(K, 3, 1, 1).expand_as(out)), out)
        grey = (r(K) < 0.1).view(K, 1, 1, 1)
        out = torch.where(grey, out.mean(1, keepdim=True).expand_as(out), out)
        out = out.clamp(0.0, 1.0)
    if p_drop > 0:
        drop = (r(K) < p_drop).view(K, 1, 1, 1)
        out = torch.where(drop, torch.zeros_like(out), out)
    return out
