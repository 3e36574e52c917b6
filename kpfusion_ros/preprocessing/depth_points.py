"""Depth normalisation and point clouds of the crops (torch, batched over K hands).

The normalised depth crop in [−1, 1] with background +1 (reference §3 "Depth normalisation"),
which of its pixels are foreground, their lift to ``xyz_nl`` points and the resampling of each
crop's points to exactly N (reference §3 "Point cloud"). Quirks of the authors reproduced on
purpose are marked "QUIRK".
"""

from __future__ import annotations

from typing import Optional

import torch

from kpfusion_ros.geometry import backproject, mm_to_xyz_nl

__all__ = ["normalize_depth", "foreground_mask", "foreground_points_mask", "lift_pixels",
           "depth_to_points", "sample_indices", "sample_points"]

#: ``np.isclose(d_nl, 1)`` tolerances the authors use to find background pixels
#: of the normalised crop (``getpcl``): |d − 1| ≤ atol + rtol·1.
_BG_ATOL = 1e-8
_BG_RTOL = 1e-5


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
    return lift_pixels_inv(depth_nl, index, center, torch.linalg.inv(M.to(torch.float64)), cube, cam)


def lift_pixels_inv(depth_nl, index, center, Minv, cube, cam) -> torch.Tensor:
    """:func:`lift_pixels` given M⁻¹ (K×3×3, float64; :func:`~.crop.crop_hands` inverts on the host)."""
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
    keys (``topk``, cheaper than a full sort) are the
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

