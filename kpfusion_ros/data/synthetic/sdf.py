"""Signed distances of round cones, their smooth union, and sphere tracing (torch, batched).

The hand's skin is one continuous surface: the smooth union of round cones (the convex
hull of two spheres of radii r_a, r_b; a capsule when r_a = r_b, a sphere when a = b).
Everything here is elementwise over a leading (rays × primitives) layout, so the same
code runs on the CPU and on CUDA and no Python loop runs over rays.

Round cone, exact distance. In the plane that contains the axis and the point, with the
axial coordinate y (from a towards b, length L) and the radial distance x ≥ 0, the side
of the hull is the line n·q = r_a with n = (cos α, sin α), sin α = (r_a − r_b)/L
(|r_a − r_b| < L). Along the side direction t = (−sin α, cos α), the tangent points
lie at s = t·q = 0 (sphere a) and s = L cos α (sphere b), so the distance is
|q| − r_a for s < 0, |q − (0, L)| − r_b for s > L cos α, and n·q − r_a between.

Smooth union. ``−k·log Σᵢ exp(−dᵢ/k)`` (an n-ary, order-independent smooth minimum):
where one primitive is much nearer it equals its distance; where m primitives meet at
equal distance the skin lies k·ln m outside them, which fills the creases between
fingers and palm and rounds the joints the way skin does. It is a lower bound of the
true union distance minus k·ln m, so sphere tracing with it never overshoots by more
than that margin (the tracer starts at the bounding capsules inflated by it).
"""

from __future__ import annotations

import torch

#: Columns of a round-cone row: a(3), b(3), r_a, r_b.
CONE_DIM = 8


def cone_constants(cone: torch.Tensor) -> torch.Tensor:
    """Per-cone constants of :func:`round_cone_sdf` (…×K×11): a(3), unit axis(3), L, sin α, cos α, r_a, r_b."""
    a, b = cone[..., 0:3], cone[..., 3:6]
    ra, rb = cone[..., 6], cone[..., 7]
    ab = b - a
    L = ab.norm(dim=-1).clamp(min=1e-6)
    axis = ab / L.unsqueeze(-1)
    sin_a = ((ra - rb) / L).clamp(-0.999, 0.999)
    cos_a = (1.0 - sin_a * sin_a).sqrt()
    return torch.cat([a, axis, torch.stack([L, sin_a, cos_a, ra, rb], -1)], -1)


def cone_sdf_const(p: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """Distances from points ``p`` (…×M×3) to round cones given by :func:`cone_constants` ``c`` (…×K×11) → …×M×K."""
    pa = p.unsqueeze(-2) - c[..., 0:3].unsqueeze(-3)  # …×M×K×3
    y = (pa * c[..., 3:6].unsqueeze(-3)).sum(-1)  # axial coordinate
    r2 = (pa * pa).sum(-1)
    x = (r2 - y * y).clamp(min=0).sqrt()  # radial distance
    L, sin_a, cos_a, ra, rb = (c[..., i].unsqueeze(-2) for i in range(6, 11))
    s = cos_a * y - sin_a * x
    d_side = cos_a * x + sin_a * y - ra
    d_a = r2.sqrt() - ra
    d_b = (x * x + (y - L) ** 2).sqrt() - rb
    return torch.where(s < 0, d_a, torch.where(s > L * cos_a, d_b, d_side))


def round_cone_sdf(p: torch.Tensor, cone: torch.Tensor) -> torch.Tensor:
    """Distances from points ``p`` (…×M×3) to round cones ``cone`` (…×K×8) → …×M×K (mm)."""
    return cone_sdf_const(p, cone_constants(cone))


def smooth_union(d: torch.Tensor, k: float, valid: torch.Tensor | None = None) -> torch.Tensor:
    """``−k·log Σ exp(−d/k)`` over the last axis (invalid entries ignored; none valid → +inf)."""
    if valid is not None:
        d = torch.where(valid, d, torch.full_like(d, float("inf")))
    if k <= 0:
        return d.amin(-1)
    return -k * torch.logsumexp(-d / k, dim=-1)


def influence_capsules(cone: torch.Tensor, margin: float) -> torch.Tensor:
    """Capsules (a, b, r) that contain each round cone inflated by ``margin`` (…×K×7)."""
    r = torch.maximum(cone[..., 6], cone[..., 7]) + margin
    return torch.cat([cone[..., 0:6], r.unsqueeze(-1)], -1)


def sphere_trace(rd: torch.Tensor, t0: torch.Tensor, const: torch.Tensor, valid: torch.Tensor, t_far: torch.Tensor,
                 k: float, iters: int = 14, eps: float = 0.25, accept: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """March R unit rays from the origin along ``rd`` (R×3) from ``t0`` (R) onto a smooth union of round cones.

    Each ray has its own cones (:func:`cone_constants` ``const`` R×K×11, ``valid`` R×K): the
    ones whose influence region it crosses. A ray hits when it comes within ``eps`` mm of the
    surface, or is within ``accept`` mm after the last iteration (grazing rays converge slowly;
    depth sensors quantise to ~1 mm); it misses when it passes ``t_far`` (R). Returns
    (t R, inf where missed; hit R bool). Only the rays still marching are evaluated each
    iteration (compacted every step).
    """
    R = rd.shape[0]
    t_out = torch.full((R,), float("inf"), dtype=rd.dtype, device=rd.device)
    hit = torch.zeros(R, dtype=torch.bool, device=rd.device)
    idx = torch.isfinite(t0).nonzero().squeeze(-1)
    t, d_r, far, c, v = t0[idx], rd[idx], t_far[idx], const[idx], valid[idx]
    for it in range(iters):
        if idx.numel() == 0:
            break
        dist = smooth_union(cone_sdf_const((d_r * t.unsqueeze(-1)).unsqueeze(1), c)[:, 0], k, v)
        close = dist < (eps if it < iters - 1 else accept)
        if bool(close.any()):
            hit[idx[close]] = True
            t_out[idx[close]] = t[close]
        t = t + dist.clamp(min=0.0)
        keep = ~close & (t <= far)
        idx, t, d_r, far, c, v = idx[keep], t[keep], d_r[keep], far[keep], c[keep], v[keep]
    return t_out, hit


def smooth_union_normal(p: torch.Tensor, const: torch.Tensor, valid: torch.Tensor, k: float,
                        h: float = 0.25) -> torch.Tensor:
    """Outward unit normals of the smooth union at points ``p`` (N×3; cone constants N×K×11) by central differences."""
    offs = torch.eye(3, dtype=p.dtype, device=p.device) * h
    q = torch.cat([p.unsqueeze(1) + offs, p.unsqueeze(1) - offs], 1)  # N×6×3
    d = smooth_union(cone_sdf_const(q, const), k, valid.unsqueeze(1))  # N×6
    n = d[:, 0:3] - d[:, 3:6]
    return n / n.norm(dim=-1, keepdim=True).clamp(min=1e-9)
