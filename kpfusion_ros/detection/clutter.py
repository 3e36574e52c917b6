"""Procedural clutter in the hand verifier's patch space: negatives with many edges, and busy backgrounds.

Why: a verifier trained on the renderer's scenes alone learns a shortcut. In those scenes a hand is
the only thing with many depth edges (fingers, gaps) inside a 300 mm patch; the clutter is a few
smooth primitives on a flat table. A real kitchen worktop seen by an SR300 at 0.7–0.95 m is full of
edges (objects behind objects, holes at every occlusion boundary), and the verifier trained so gave
such patches p(hand) ≈ 1 (docs/real_frames.md). Two remedies, both in the normalised patch space of
:mod:`.patches` (channel 0 depth in cube units, +1 = background or no depth; channel 1 validity: 1
valid, 0 hole, −1 outside the image), so no renderer is needed and they cost microseconds:

* :func:`clutter_patches`: pure negatives. A background (nothing, or a tilted plane: table, wall)
  and up to ``max_shapes`` overlapping shapes (ellipses and rotated rectangles, flat, tilted or bulged
  like cylinders and bowls; nearer surfaces occlude farther ones), holes along part of the depth
  edges (the sensor's edge dropout), sometimes an image border;
* :func:`composite_behind`: a busy background for any patch. Clutter pushed behind the patch's
  centre (≥ ``min_behind`` cube units, i.e. at least 45 mm behind at the default cube) fills the
  patch's valid background pixels only, so what was in front stays in front and nothing is
  occluded that should not be; labels are unchanged (a hand in front of clutter is still a hand).

Fully vectorised over patches and shapes (no loop over pixels); every draw comes from the caller's
generator, so a training run stays reproducible.
"""

from __future__ import annotations

import math

import torch

__all__ = ["clutter_depth", "clutter_patches", "composite_behind"]


def _uniform(gen: torch.Generator, shape, lo: float, hi: float) -> torch.Tensor:
    return lo + (hi - lo) * torch.rand(shape, generator=gen)


def clutter_depth(n: int, size: int, gen: torch.Generator, max_shapes: int = 12) -> torch.Tensor:
    """n×S×S normalised depth of random clutter (−1 near … +1 background), before any sensor defect."""
    S = size
    t = (torch.arange(S, dtype=torch.float32) + 0.5) / S * 2.0 - 1.0
    yy, xx = torch.meshgrid(t, t, indexing="ij")                         # S×S, image axes
    # background: nothing (+1) or a tilted plane (a table or a wall) that may leave the cube
    has_plane = torch.rand(n, generator=gen) < 0.6
    p0 = _uniform(gen, (n, 1, 1), -0.4, 1.4)
    px, py = _uniform(gen, (n, 1, 1), -1.0, 1.0), _uniform(gen, (n, 1, 1), -1.2, 1.2)
    plane = p0 + px * xx + py * yy
    base = torch.where(has_plane.view(n, 1, 1), plane, torch.full_like(plane, 1.0))
    # shapes: M per patch, a random number of them active
    M = max_shapes
    active = torch.arange(M).view(1, M) < torch.randint(2, M + 1, (n, 1), generator=gen)
    cx, cy = _uniform(gen, (n, M, 1, 1), -1.1, 1.1), _uniform(gen, (n, M, 1, 1), -1.1, 1.1)
    a, b = _uniform(gen, (n, M, 1, 1), 0.06, 0.6), _uniform(gen, (n, M, 1, 1), 0.06, 0.6)
    th = _uniform(gen, (n, M, 1, 1), 0.0, math.pi)
    c, s = torch.cos(th), torch.sin(th)
    dx, dy = xx - cx, yy - cy
    u, v = (c * dx + s * dy) / a, (-s * dx + c * dy) / b              # n×M×S×S, shape frame
    ellipse = torch.rand(n, M, 1, 1, generator=gen) < 0.5
    r_e = u * u + v * v
    r_r = torch.maximum(u.abs(), v.abs()) ** 2
    r = torch.where(ellipse, r_e, r_r)
    inside = (r <= 1.0) & active.view(n, M, 1, 1)
    d0 = _uniform(gen, (n, M, 1, 1), -0.9, 0.9)
    gx, gy = _uniform(gen, (n, M, 1, 1), -0.4, 0.4), _uniform(gen, (n, M, 1, 1), -0.4, 0.4)
    bulge = _uniform(gen, (n, M, 1, 1), -0.3, 0.3) * (torch.rand(n, M, 1, 1, generator=gen) < 0.6)
    depth = d0 + gx * dx + gy * dy - bulge * torch.sqrt(torch.clamp(1.0 - r, min=0.0))
    depth = torch.where(inside, depth, torch.full_like(depth, math.inf))
    out = torch.minimum(base, depth.min(dim=1).values)
    return out.clamp(-1.0, 1.0)


def _edge_holes(d: torch.Tensor, gen: torch.Generator, jump: float = 0.08, p_drop: float = 0.6) -> torch.Tensor:
    """Holes (True) on part of the depth edges of n×S×S normalised depth (a jump above ``jump`` to a neighbour)."""
    e = torch.zeros_like(d, dtype=torch.bool)
    gx = (d[:, :, 1:] - d[:, :, :-1]).abs() > jump
    gy = (d[:, 1:, :] - d[:, :-1, :]).abs() > jump
    # the farther side of an edge loses its depth (shadow of the projector / stereo occlusion)
    e[:, :, 1:] |= gx & (d[:, :, 1:] > d[:, :, :-1])
    e[:, :, :-1] |= gx & (d[:, :, :-1] > d[:, :, 1:])
    e[:, 1:, :] |= gy & (d[:, 1:, :] > d[:, :-1, :])
    e[:, :-1, :] |= gy & (d[:, :-1, :] > d[:, 1:, :])
    per_patch = torch.rand(d.shape[0], 1, 1, generator=gen) * p_drop
    return e & (torch.rand(d.shape, generator=gen) < per_patch) & (d < 1.0)


def clutter_patches(n: int, size: int, gen: torch.Generator, max_shapes: int = 12,
                    p_border: float = 0.15, pairs: int = 1) -> torch.Tensor:
    """n×2·pairs×S×S verifier patches of random clutter (channels as :func:`~.patches.extract_patches`, one
    independent clutter per (depth, validity) pair: the hand patch and the context patch): negatives."""
    if pairs > 1:
        return torch.cat([clutter_patches(n, size, gen, max_shapes, p_border) for _ in range(pairs)], dim=1)
    d = clutter_depth(n, size, gen, max_shapes)
    holes = _edge_holes(d, gen)
    valid = torch.ones_like(d)
    d = torch.where(holes, torch.ones_like(d), d)
    valid = torch.where(holes, torch.zeros_like(valid), valid)
    # sometimes the patch runs off the image on one side: outside is +1 depth, −1 validity
    S = size
    t = (torch.arange(S, dtype=torch.float32) + 0.5) / S * 2.0 - 1.0
    side = torch.randint(0, 4, (n,), generator=gen)
    edge = _uniform(gen, (n,), 0.3, 0.95)
    coord = torch.stack([t.view(1, S).expand(S, S), -t.view(1, S).expand(S, S),
                         t.view(S, 1).expand(S, S), -t.view(S, 1).expand(S, S)])   # 4×S×S
    outside = (coord[side] > edge.view(n, 1, 1)) & (torch.rand(n, 1, 1, generator=gen) < p_border)
    d = torch.where(outside, torch.ones_like(d), d)
    valid = torch.where(outside, -torch.ones_like(valid), valid)
    return torch.stack([d, valid], dim=1)


def composite_behind(patches: torch.Tensor, gen: torch.Generator, min_behind: float = 0.3,
                     max_shapes: int = 12) -> torch.Tensor:
    """``patches`` (K×2·pairs×S×S) with clutter, pushed to ≥ ``min_behind`` cube units behind the centre, in
    their valid background pixels (depth +1, validity 1); everything else unchanged. With a context patch
    (4 channels) the context gets its own clutter."""
    K, C, S, _ = patches.shape
    out = patches.clone()
    for d, v in ((k, k + 1) for k in range(0, C, 2)):
        c = clutter_depth(K, S, gen, max_shapes)
        c = min_behind + (1.0 - min_behind) * (c + 1.0) / 2.0      # [−1, 1] → [min_behind, 1]
        bg = (patches[:, d] >= 1.0) & (patches[:, v] > 0.5)
        out[:, d] = torch.where(bg, c, patches[:, d])
    return out
