"""Vectorised analytic ray casting of capsules, ellipsoids, boxes and planes (torch).

Rays start at the camera centre (origin of the camera frame: x right, y down,
z forward, mm) and pass through pixel centres; pixel column j, row i is the point
u = u0 + j, v = v0 + i of the pinhole model of :func:`kpfusion_ros.geometry.project`
(OpenCV convention: a joint projecting to (u, v) lies on pixel (round(v), round(u))).
The returned depth is z (not the ray length).

Culling is tile based and fully batched: the image is cut into TILE×TILE tiles,
each primitive's conservative screen bounding box selects the tiles it can touch,
and for each primitive type only the (frame, tile) pairs it touches are cast, with
the K primitives of that tile gathered into a dense (tiles × pixels × K) problem.
No Python loop runs over pixels, tiles or frames; the loops are over the four
primitive types. The same code runs on CUDA (pass tensors on the device).

Primitive tables (per type, padded over the batch: B×N×D float, plus ``valid``):

* cone: a(3) b(3) r_a r_b — round cones whose **smooth union** is the hands' skin
  (:mod:`.sdf`; sphere traced from the entry into their bounding capsules inflated by
  the blend margin, a few iterations per ray, only the rays of tiles they touch);
* capsule: a(3) b(3) r — spheres are capsules with a == b;
* cylinder: centre(3), axis(3, unit), r, half length — flat caps;
* ellipsoid: centre(3), A(3×3 row-major) with |A (x − c)| = 1 on the surface;
* box: centre(3), R(3×3 row-major, columns are the box axes), half extents(3);
* plane: n(3), d with n·x = d (infinite).

Attributes per primitive (B×N×ATTR): albedo rgb(3), instance id(1), texture(10):
amplitude, sharpness, f1(3), f2(3), phase1, phase2 → albedo·(1 + amp·s(f1·p+φ1)·s(f2·p+φ2)),
s(x) = tanh(sharpness·sin x).
"""

from __future__ import annotations

from dataclasses import dataclass

import math

import torch

from .sdf import CONE_DIM, cone_constants, cone_sdf_const, influence_capsules, smooth_union_normal, sphere_trace

TILE = 16
TYPES = ("cone", "capsule", "cylinder", "ellipsoid", "box", "plane")
GEOM_DIM = {"cone": CONE_DIM, "capsule": 7, "cylinder": 8, "ellipsoid": 12, "box": 15, "plane": 4}
#: Blend radius of the cones' smooth union (mm). Each ray is traced against the cones whose
#: capsule inflated by CONE_INFLUENCE_MM it crosses: the skin lies inside that region (≤ 8 cones
#: meet anywhere: k·ln 8 = 5.2 mm), and a cone farther than it from the ray changes the union by
#: at most k·ln(1 + e^(−8/k)) = 0.1 mm.
CONE_BLEND_MM = 2.5
CONE_INFLUENCE_MM = 8.0
#: Cones per ray: the ones whose influence region the ray enters first.
CONE_PER_RAY = 10
ATTR_DIM = 14
INF = float("inf")


@dataclass
class PrimTable:
    geom: torch.Tensor  # B×N×D
    attr: torch.Tensor  # B×N×ATTR_DIM
    valid: torch.Tensor  # B×N bool


@dataclass
class GBuffer:
    z: torch.Tensor  # B×H×W float (inf where no hit)
    inst: torch.Tensor  # B×H×W int16 (instance attribute of the hit primitive, -1 for none)
    albedo: torch.Tensor  # B×H×W×3 (textured)
    normal: torch.Tensor  # B×H×W×3 unit, facing the camera
    ray: torch.Tensor  # B×H×W×3 unit ray directions
    us: torch.Tensor | None = None  # B×W pixel columns of the grid (full-image coordinates)
    vs: torch.Tensor | None = None  # B×H pixel rows
    cam: torch.Tensor | None = None  # B×4


def pixel_rays(cam: torch.Tensor, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Unit ray directions for pixels (u, v) (B×... each) with intrinsics cam (B×4)."""
    shape = (-1,) + (1,) * (u.dim() - 1)
    fx, fy, cx, cy = (cam[:, i].view(shape) for i in range(4))
    d = torch.stack([(u - cx) / fx, (v - cy) / fy, torch.ones_like(u)], dim=-1)
    return d / d.norm(dim=-1, keepdim=True)


# --------------------------------------------------------------------------- bounds


def _sphere_bbox(c: torch.Tensor, r: torch.Tensor, cam: torch.Tensor):
    """Conservative pixel bbox (umin, umax, vmin, vmax) of spheres c (B×N×3), r (B×N)."""
    fx, fy, cx, cy = (cam[:, i].view(-1, 1) for i in range(4))
    z0 = c[..., 2] - r
    z1 = c[..., 2] + r
    zs = torch.stack([z0, z1], -1).clamp(min=1e-3)
    xs = torch.stack([c[..., 0] - r, c[..., 0] + r], -1)
    ys = torch.stack([c[..., 1] - r, c[..., 1] + r], -1)
    qx = xs.unsqueeze(-1) / zs.unsqueeze(-2)
    qy = ys.unsqueeze(-1) / zs.unsqueeze(-2)
    umin = qx.flatten(-2).amin(-1) * fx + cx
    umax = qx.flatten(-2).amax(-1) * fx + cx
    vmin = qy.flatten(-2).amin(-1) * fy + cy
    vmax = qy.flatten(-2).amax(-1) * fy + cy
    behind = z0 < 1.0  # crosses the camera plane: anywhere
    big = torch.full_like(umin, 1e9)
    umin = torch.where(behind, -big, umin)
    vmin = torch.where(behind, -big, vmin)
    umax = torch.where(behind, big, umax)
    vmax = torch.where(behind, big, vmax)
    return umin - 1, umax + 1, vmin - 1, vmax + 1


def _bbox(kind: str, g: torch.Tensor, cam: torch.Tensor):
    if kind == "cone":
        g = influence_capsules(g, CONE_INFLUENCE_MM)
        kind = "capsule"
    if kind == "cylinder":
        r = torch.sqrt(g[..., 6] ** 2 + g[..., 7] ** 2)
        return _sphere_bbox(g[..., 0:3], r, cam)
    if kind == "capsule":
        b1 = _sphere_bbox(g[..., 0:3], g[..., 6], cam)
        b2 = _sphere_bbox(g[..., 3:6], g[..., 6], cam)
        return torch.minimum(b1[0], b2[0]), torch.maximum(b1[1], b2[1]), torch.minimum(b1[2], b2[2]), torch.maximum(b1[3], b2[3])
    if kind == "ellipsoid":
        # semi-axes are 1/singular values of A; the largest is 1/min singular value
        A = g[..., 3:12].reshape(*g.shape[:-1], 3, 3)
        smin = torch.linalg.svdvals(A)[..., -1]
        return _sphere_bbox(g[..., 0:3], 1.0 / smin.clamp(min=1e-9), cam)
    if kind == "box":
        return _sphere_bbox(g[..., 0:3], g[..., 12:15].norm(dim=-1), cam)
    big = torch.full(g.shape[:-1], 1e9, dtype=g.dtype, device=g.device)
    return -big, big, -big, big


# --------------------------------------------------------------------------- intersections
# rd: T×M×3 (unit), g: T×K×D → t: T×M×K (ray parameter; inf where no hit)


def _hit_capsule(rd, g):
    pa, pb, r = g[..., 0:3], g[..., 3:6], g[..., 6]
    ba = pb - pa
    baba = (ba * ba).sum(-1).unsqueeze(1)  # T×1×K
    baoa = -(ba * pa).sum(-1).unsqueeze(1)
    oaoa = (pa * pa).sum(-1).unsqueeze(1)
    r2 = (r * r).unsqueeze(1)
    bard = torch.einsum("tmc,tkc->tmk", rd, ba)
    rdpa = torch.einsum("tmc,tkc->tmk", rd, pa)
    rdoa = -rdpa
    a = baba - bard * bard
    b = baba * rdoa - baoa * bard
    c = baba * oaoa - baoa * baoa - r2 * baba
    h = b * b - a * c
    ok = (h >= 0) & (a > 1e-6 * baba.clamp(min=1e-9))
    t_cyl = (-b - h.clamp(min=0).sqrt()) / a.clamp(min=1e-12)
    y = baoa + t_cyl * bard
    ok = ok & (y > 0) & (y < baba) & (t_cyl > 0)
    t = torch.where(ok, t_cyl, INF)
    # end spheres (ray origin 0: b = -rd·p, c = |p|² - r²)
    for p_dot, pp in ((rdpa, oaoa), (rdpa + bard, (pb * pb).sum(-1).unsqueeze(1))):
        hs = p_dot * p_dot - (pp - r2)
        ts = p_dot - hs.clamp(min=0).sqrt()
        t = torch.where((hs >= 0) & (ts > 0) & (ts < t), ts, t)
    return t


def _hit_cylinder(rd, g):
    c, ax, r, h = g[..., 0:3], g[..., 3:6], g[..., 6], g[..., 7]
    oc = -c  # ray origin (camera centre) relative to the centre, T×K×3
    oca = (oc * ax).sum(-1).unsqueeze(1)  # T×1×K
    rda = torch.einsum("tmc,tkc->tmk", rd, ax)  # T×M×K
    ocp2 = ((oc * oc).sum(-1).unsqueeze(1) - oca * oca)
    rdoc = torch.einsum("tmc,tkc->tmk", rd, oc)
    A = 1.0 - rda * rda
    B = rdoc - rda * oca
    C = ocp2 - (r * r).unsqueeze(1)
    disc = B * B - A * C
    t_side = (-B - disc.clamp(min=0).sqrt()) / A.clamp(min=1e-9)
    y = oca + t_side * rda
    h1 = h.unsqueeze(1)
    ok = (disc >= 0) & (A > 1e-9) & (t_side > 0) & (y.abs() <= h1)
    t = torch.where(ok, t_side, INF)
    for sgn in (1.0, -1.0):  # caps
        tc = (sgn * h1 - oca) / torch.where(rda.abs() < 1e-9, torch.full_like(rda, 1e-9), rda)
        # radial distance² at the cap hit: |oc + t rd|² − (oca + t rda)²
        q2 = ((oc * oc).sum(-1).unsqueeze(1) + 2 * tc * rdoc + tc * tc) - (sgn * h1) ** 2
        okc = (tc > 0) & (q2 <= (r * r).unsqueeze(1)) & (tc < t)
        t = torch.where(okc, tc, t)
    return t


def hit_ellipsoid(rd, g):
    """Ray parameter t (T×M×K; +inf on a miss) of the first hit of rays t·rd (T×M×3, from the camera centre)
    with ellipsoids g (T×K×12: centre, then A = diag(1/semi-axes)·Rᵀ row-major, |A(p − c)| = 1). t is in
    units of rd: unit rays give the distance, rays (x, y, 1) the depth."""
    c = g[..., 0:3]
    A = g[..., 3:12].reshape(*g.shape[:-1], 3, 3)  # T×K×3×3
    rdq = torch.einsum("tkij,tmj->tmki", A, rd)  # T×M×K×3
    roq = -torch.einsum("tkij,tkj->tki", A, c).unsqueeze(1)  # T×1×K×3
    a = (rdq * rdq).sum(-1)
    b = (rdq * roq).sum(-1)
    cc = (roq * roq).sum(-1) - 1.0
    h = b * b - a * cc
    t = (-b - h.clamp(min=0).sqrt()) / a.clamp(min=1e-12)
    return torch.where((h >= 0) & (t > 0), t, INF)


def _hit_box(rd, g):
    c = g[..., 0:3]
    R = g[..., 3:12].reshape(*g.shape[:-1], 3, 3)
    half = g[..., 12:15].unsqueeze(1)  # T×1×K×3
    rdb = torch.einsum("tkji,tmj->tmki", R, rd)  # Rᵀ rd
    rob = -torch.einsum("tkji,tkj->tki", R, c).unsqueeze(1)
    inv = 1.0 / torch.where(rdb.abs() < 1e-9, torch.full_like(rdb, 1e-9), rdb)
    t1 = (-half - rob) * inv
    t2 = (half - rob) * inv
    tn = torch.minimum(t1, t2).amax(-1)
    tf = torch.maximum(t1, t2).amin(-1)
    return torch.where((tn <= tf) & (tn > 0), tn, INF)


def hit_plane(rd, g):
    """Ray parameter t (T×M×K; +inf behind the camera) of rays t·rd with planes g (T×K×4: n, d; n·p = d)."""
    n, d = g[..., 0:3], g[..., 3].unsqueeze(1)
    nd = torch.einsum("tmc,tkc->tmk", rd, n)
    t = d / torch.where(nd.abs() < 1e-9, torch.full_like(nd, 1e-9), nd)
    return torch.where(t > 0, t, INF)


_HIT = {"capsule": _hit_capsule, "cylinder": _hit_cylinder, "ellipsoid": hit_ellipsoid, "box": _hit_box,
        "plane": hit_plane}


def _normals(kind: str, p: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """Outward normals at points p (N×3) on primitives g (N×D)."""
    if kind == "capsule":
        pa, pb, _ = g[:, 0:3], g[:, 3:6], g[:, 6]
        ba = pb - pa
        s = ((p - pa) * ba).sum(-1) / (ba * ba).sum(-1).clamp(min=1e-9)
        q = pa + s.clamp(0, 1).unsqueeze(-1) * ba
        n = p - q
    elif kind == "cylinder":
        c, ax, r, h = g[:, 0:3], g[:, 3:6], g[:, 6], g[:, 7]
        q = p - c
        y = (q * ax).sum(-1, keepdim=True)
        radial = q - y * ax
        on_cap = (y.abs() - h.unsqueeze(-1)).abs() < (radial.norm(dim=-1, keepdim=True) - r.unsqueeze(-1)).abs()
        n = torch.where(on_cap, ax * y.sign(), radial)
    elif kind == "ellipsoid":
        A = g[:, 3:12].reshape(-1, 3, 3)
        q = torch.einsum("nij,nj->ni", A, p - g[:, 0:3])
        n = torch.einsum("nji,nj->ni", A, q)
    elif kind == "box":
        R = g[:, 3:12].reshape(-1, 3, 3)
        q = torch.einsum("nji,nj->ni", R, p - g[:, 0:3])
        rel = q.abs() / g[:, 12:15].clamp(min=1e-6)
        ax = rel.argmax(-1, keepdim=True)
        nb = torch.zeros_like(q).scatter_(-1, ax, torch.gather(q, -1, ax).sign())
        n = torch.einsum("nij,nj->ni", R, nb)
    else:
        n = g[:, 0:3].clone()
    return n / n.norm(dim=-1, keepdim=True).clamp(min=1e-9)


def _texture(albedo: torch.Tensor, tex: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    amp, sharp = tex[:, 0:1], tex[:, 1:2]
    s1 = torch.tanh(sharp * torch.sin((p * tex[:, 2:5]).sum(-1, keepdim=True) + tex[:, 8:9]))
    s2 = torch.tanh(sharp * torch.sin((p * tex[:, 5:8]).sum(-1, keepdim=True) + tex[:, 9:10]))
    return (albedo * (1.0 + amp * s1 * s2)).clamp(0.0, 1.0)


def _pad_grid(x: torch.Tensor, n: int) -> torch.Tensor:
    """Extend B×L monotone pixel coordinates to B×n by continuing the last step."""
    L = x.shape[1]
    if n == L:
        return x
    step = (x[:, -1] - x[:, -2]).clamp(min=1.0) if L > 1 else torch.ones_like(x[:, 0])
    extra = x[:, -1:] + step.unsqueeze(1) * torch.arange(1, n - L + 1, device=x.device, dtype=x.dtype)
    return torch.cat([x, extra], 1)


def cast(
    prims: dict[str, PrimTable],
    cam: torch.Tensor,
    height: int,
    width: int,
    origin: tuple[int, int] = (0, 0),
    tile: int = TILE,
    us: torch.Tensor | None = None,
    vs: torch.Tensor | None = None,
) -> GBuffer:
    """Ray cast B frames of ``height×width`` pixels.

    The pixel grid is ``origin`` (u0, v0) + (column, row) — or, for crops, any per-frame
    separable grid of full-image pixel coordinates: ``us`` B×width and ``vs`` B×height,
    each non-decreasing (pixel (i, j) of frame b is the ray through (us[b, j], vs[b, i])).
    """
    device, dtype = cam.device, cam.dtype
    B = cam.shape[0]
    nty, ntx = -(-height // tile), -(-width // tile)
    NT = nty * ntx
    M = tile * tile
    u0, v0 = origin
    if us is None:
        us = (u0 + torch.arange(width, device=device, dtype=dtype)).expand(B, width)
    if vs is None:
        vs = (v0 + torch.arange(height, device=device, dtype=dtype)).expand(B, height)
    us, vs = us.to(device=device, dtype=dtype), vs.to(device=device, dtype=dtype)
    usp, vsp = _pad_grid(us, ntx * tile), _pad_grid(vs, nty * tile)
    # per (frame, tile): pixel-coordinate bounds and the tile's pixel coordinates
    tu = usp.view(B, ntx, tile)
    tv = vsp.view(B, nty, tile)
    tu_lo = tu[:, :, 0].repeat(1, nty)  # B×NT (tile index = ty·ntx + tx)
    tu_hi = tu[:, :, -1].repeat(1, nty)
    tv_lo = tv[:, :, 0].repeat_interleave(ntx, 1)
    tv_hi = tv[:, :, -1].repeat_interleave(ntx, 1)
    k = torch.arange(M, device=device)
    du, dv = k % tile, k // tile

    best_t = torch.full((B * NT, M), INF, device=device, dtype=dtype)
    best_type = torch.full((B * NT, M), -1, device=device, dtype=torch.int8)
    best_idx = torch.zeros((B * NT, M), device=device, dtype=torch.long)
    cone_n = None  # normals of the skin hits (computed in the tile pass)

    for ti, kind in enumerate(TYPES):
        tab = prims.get(kind)
        if tab is None or tab.geom.shape[1] == 0:
            continue
        g, valid = tab.geom, tab.valid
        N = g.shape[1]
        umin, umax, vmin, vmax = _bbox(kind, g, cam)  # B×N
        ov = (
            (umax.unsqueeze(1) >= tu_lo.unsqueeze(-1))
            & (umin.unsqueeze(1) <= tu_hi.unsqueeze(-1))
            & (vmax.unsqueeze(1) >= tv_lo.unsqueeze(-1))
            & (vmin.unsqueeze(1) <= tv_hi.unsqueeze(-1))
            & valid.unsqueeze(1)
        ).reshape(B * NT, N)
        cnt = ov.sum(-1)
        act = torch.nonzero(cnt > 0).squeeze(-1)
        if act.numel() == 0:
            continue
        K = int(cnt.max())
        order = torch.sort(ov[act].to(torch.int8), dim=-1, descending=True, stable=True).indices[:, :K]
        kvalid = torch.arange(K, device=device).unsqueeze(0) < cnt[act].unsqueeze(1)
        fr = act // NT
        tl = act % NT
        gsel = g[fr.unsqueeze(1), order]  # A×K×D
        uu = usp[fr.unsqueeze(1), (tl % ntx).unsqueeze(1) * tile + du.unsqueeze(0)]
        vv = vsp[fr.unsqueeze(1), (tl // ntx).unsqueeze(1) * tile + dv.unsqueeze(0)]
        rd = pixel_rays(cam[fr], uu, vv)  # A×M×3
        if kind == "cone":
            # per ray: the cones whose influence capsule it crosses, nearest entry first
            t_c = _hit_capsule(rd, influence_capsules(gsel, CONE_INFLUENCE_MM))
            t_c = torch.where(kvalid.unsqueeze(1) & (t_c < best_t[act].unsqueeze(-1)), t_c, INF)
            crosses = torch.isfinite(t_c)
            # the skin a ray meets first lies in regions it has entered before: keep the earliest entries
            Kr = min(max(int(crosses.sum(-1).max()), 1), CONE_PER_RAY)
            sel = torch.sort(t_c, dim=-1, stable=True).indices[..., :Kr]
            r_valid = torch.gather(crosses, 2, sel)  # A×M×Kr
            const = cone_constants(gsel)  # A×K×11
            r_const = torch.gather(const.unsqueeze(1).expand(-1, M, -1, -1), 2,
                                   sel.unsqueeze(-1).expand(-1, -1, -1, const.shape[-1]))
            t_in = t_c.amin(-1)
            ta = torch.einsum("tmc,tkc->tmk", rd, gsel[..., 0:3])
            tb = torch.einsum("tmc,tkc->tmk", rd, gsel[..., 3:6])
            reach = torch.maximum(ta, tb) + torch.maximum(gsel[..., 6], gsel[..., 7]).unsqueeze(1)
            t_far = torch.where(r_valid, torch.gather(reach, 2, sel), -INF).amax(-1)
            flat = (-1, Kr)
            tmin, hit = sphere_trace(rd.reshape(-1, 3), t_in.reshape(-1), r_const.reshape(*flat, const.shape[-1]),
                                     r_valid.reshape(flat), t_far.reshape(-1), CONE_BLEND_MM)
            tmin, hit = tmin.view(-1, M), hit.view(-1, M)
            # owner of a hit (attributes): the nearest cone at the hit point; the skin's normal there
            kmin = torch.zeros_like(best_idx[act])
            hi = hit.nonzero(as_tuple=True)
            if hi[0].numel():
                p = rd[hi] * tmin[hi].unsqueeze(-1)
                c_h, v_h = r_const[hi], r_valid[hi]
                d = torch.where(v_h, cone_sdf_const(p.unsqueeze(1), c_h)[:, 0], INF)
                kmin[hi] = torch.gather(sel[hi], 1, d.argmin(-1, keepdim=True)).squeeze(1)
                if cone_n is None:
                    cone_n = torch.zeros((B * NT, M, 3), device=device, dtype=dtype)
                sub = cone_n[act]
                sub[hi] = smooth_union_normal(p, c_h, v_h, CONE_BLEND_MM)
                cone_n[act] = sub
            kmin = kmin.unsqueeze(-1)
        else:
            t = _HIT[kind](rd, gsel)
            t = torch.where(kvalid.unsqueeze(1), t, INF)
            tmin, kmin = t.min(-1)
            kmin = kmin.unsqueeze(-1) if kmin.dim() == 2 else kmin
        cur = best_t[act]
        better = tmin < cur
        best_t[act] = torch.where(better, tmin, cur)
        best_type[act] = torch.where(better, torch.full_like(best_type[act], ti), best_type[act])
        best_idx[act] = torch.where(better, torch.gather(order, 1, kmin.view(len(act), -1)), best_idx[act])

    # back to image layout
    def img(x):
        x = x.view(B, nty, ntx, tile, tile, *x.shape[2:]).transpose(2, 3)
        return x.reshape(B, nty * tile, ntx * tile, *x.shape[5:])[:, :height, :width]

    t_img = img(best_t)
    type_img = img(best_type)
    idx_img = img(best_idx)
    uu = us.view(B, 1, width).expand(B, height, width)
    vv = vs.view(B, height, 1).expand(B, height, width)
    rd = pixel_rays(cam, uu, vv)
    z = t_img * rd[..., 2]
    inst = torch.full((B, height, width), -1, device=device, dtype=torch.int16)
    albedo = torch.zeros((B, height, width, 3), device=device, dtype=dtype)
    normal = torch.zeros((B, height, width, 3), device=device, dtype=dtype)
    normal[..., 2] = -1.0
    fidx = torch.arange(B, device=device).view(B, 1, 1).expand(B, height, width)
    cone_n_img = img(cone_n) if cone_n is not None else None
    for ti, kind in enumerate(TYPES):
        m = type_img == ti
        if not bool(m.any()):
            continue
        tab = prims[kind]
        f, i = fidx[m], idx_img[m]
        gsel = tab.geom[f, i]
        asel = tab.attr[f, i]
        r = rd[m]
        p = t_img[m].unsqueeze(-1) * r
        n = cone_n_img[m] if kind == "cone" else _normals(kind, p, gsel)
        n = torch.where((n * r).sum(-1, keepdim=True) > 0, -n, n)
        normal[m] = n
        albedo[m] = _texture(asel[:, 0:3], asel[:, 4:14], p)
        inst[m] = asel[:, 3].round().to(torch.int16)
    return GBuffer(z=z, inst=inst, albedo=albedo, normal=normal, ray=rd, us=us, vs=vs, cam=cam)


def shadow_mask(gb: GBuffer, light_dir: torch.Tensor, steps: int = 8, reach_mm: float = 160.0,
                bias_mm: float = 4.0) -> torch.Tensor:
    """Screen-space shadows: B×H×W in [0, 1], 1 where the light is blocked.

    From every hit point a few samples are taken towards the light (5 mm … ``reach_mm``), each is
    projected into this render's own pixel grid (``gb.us``/``gb.vs``: a full frame or a crop) and
    compared with the depth buffer there: a surface more than ``bias_mm`` in front of the sample
    blocks the light. Occluders outside the grid cast no shadow (a crop sees only its own).
    """
    B, H, W = gb.z.shape
    p = gb.ray * gb.z.unsqueeze(-1) / gb.ray[..., 2:3].clamp(min=1e-6)  # hit points (camera frame)
    hit = torch.isfinite(gb.z)
    t = torch.linspace(5.0, reach_mm, steps, device=p.device, dtype=p.dtype) ** 1.0
    q = p.unsqueeze(-2) + t.view(1, 1, 1, -1, 1) * light_dir.view(B, 1, 1, 1, 3)  # B×H×W×S×3
    fx, fy, cx, cy = (gb.cam[:, i].view(B, 1, 1, 1) for i in range(4))
    zq = q[..., 2].clamp(min=1.0)
    u = q[..., 0] * fx / zq + cx
    v = q[..., 1] * fy / zq + cy
    col = torch.searchsorted(gb.us.contiguous(), u.reshape(B, -1).contiguous()).clamp(max=W - 1)
    row = torch.searchsorted(gb.vs.contiguous(), v.reshape(B, -1).contiguous()).clamp(max=H - 1)
    inside = ((u >= gb.us[:, :1].view(B, 1, 1, 1) - 0.5) & (u <= gb.us[:, -1:].view(B, 1, 1, 1) + 0.5)
              & (v >= gb.vs[:, :1].view(B, 1, 1, 1) - 0.5) & (v <= gb.vs[:, -1:].view(B, 1, 1, 1) + 0.5))
    zb = torch.gather(torch.nan_to_num(gb.z, posinf=1e9).reshape(B, -1), 1, row * W + col).view_as(zq)
    blocked = inside & (zb < q[..., 2] - bias_mm) & (q[..., 2] > 1.0)
    return (blocked.any(-1) & hit).to(p.dtype)


def shade(gb: GBuffer, light_dir: torch.Tensor, ambient: torch.Tensor, diffuse: torch.Tensor,
          specular: torch.Tensor, light_rgb: torch.Tensor, falloff: torch.Tensor,
          background: torch.Tensor, shadow: torch.Tensor | None = None) -> torch.Tensor:
    """Lambert + Blinn-Phong shading, per-frame light (B×3 unit vector towards the light).

    ``shadow`` (B, strength in [0, 1]) darkens the direct light where :func:`shadow_mask` finds it
    blocked. Returns B×H×W×3 floats in [0, 1]; pixels with no hit get ``background`` (B×3).
    """
    L = light_dir.view(-1, 1, 1, 3)
    ndl = (gb.normal * L).sum(-1, keepdim=True).clamp(min=0)
    if shadow is not None and gb.us is not None:
        ndl = ndl * (1.0 - shadow.view(-1, 1, 1, 1) * shadow_mask(gb, light_dir).unsqueeze(-1))
    hvec = L - gb.ray
    hvec = hvec / hvec.norm(dim=-1, keepdim=True).clamp(min=1e-9)
    spec = (gb.normal * hvec).sum(-1, keepdim=True).clamp(min=0) ** 24
    z = torch.nan_to_num(gb.z, posinf=1e5).clamp(min=100.0).unsqueeze(-1)
    att = (700.0 / z) ** falloff.view(-1, 1, 1, 1)
    att = att.clamp(0.25, 1.6)
    rgb = light_rgb.view(-1, 1, 1, 3)
    col = gb.albedo * rgb * (ambient.view(-1, 1, 1, 1) + diffuse.view(-1, 1, 1, 1) * ndl) * att
    col = col + specular.view(-1, 1, 1, 1) * spec * rgb * att
    hit = torch.isfinite(gb.z).unsqueeze(-1)
    return torch.where(hit, col, background.view(-1, 1, 1, 3)).clamp(0.0, 1.0)
