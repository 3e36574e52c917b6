"""RGB-D sensor defects: the ones Keypoint-Fusion is about (reference §3 data).

All functions are batched torch on any device. Randomness comes in as
pre-drawn per-frame maps/values (drawn on the CPU from each frame's own
``torch.Generator``, see :func:`draw_sensor_noise`) so that a frame is a pure
function of (seed, index) whatever the batch it is rendered in.

Per-frame strengths are sampled in :mod:`.scene` from :class:`SensorConfig`:

* depth noise: Gaussian, σ = depth_noise · (z / 1 m)² mm (grows with z²), then
  rounding to integer mm;
* flying pixels: at depth discontinuities a pixel takes a value between the near
  and far side, with probability ``flying_pixels``;
* edge holes: a band of 1–3 px around discontinuities is dropped (0) with
  probability ``edge_holes``;
* dropouts: random blobs (low-frequency noise thresholded) covering about
  ``dropout`` of the image, plus isolated pixels;
* colour/depth misregistration: the depth image is shifted by up to
  ``misregistration`` pixels against colour (labels stay on colour);
* motion blur on colour: a linear kernel up to ``motion_blur`` px long
  (relative to a 640 px wide image);
* colour noise: Gaussian, σ in 8-bit levels.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class SensorConfig:
    """Maximum strength of each defect; each frame samples its own strengths below these."""

    depth_noise: float = 2.5  # σ at 1 m (mm)
    flying_pixels: float = 0.5  # probability of an edge pixel flying
    edge_holes: float = 0.5  # probability of an edge-band pixel being invalid
    dropout: float = 0.03  # area fraction of random holes
    misregistration: int = 2  # max |shift| of depth vs colour (px)
    motion_blur: float = 7.0  # max blur length (px at 640 px width)
    color_noise: float = 4.0  # σ (8-bit levels)
    max_range_mm: float = 4000.0  # farther: invalid (0)
    min_range_mm: float = 150.0  # nearer: invalid (0)

    def scaled(self, strength: float) -> "SensorConfig":
        """All defects multiplied by ``strength`` (0 → clean)."""
        return replace(
            self,
            depth_noise=self.depth_noise * strength,
            flying_pixels=min(1.0, self.flying_pixels * strength),
            edge_holes=min(1.0, self.edge_holes * strength),
            dropout=self.dropout * strength,
            misregistration=int(round(self.misregistration * strength)),
            motion_blur=self.motion_blur * strength,
            color_noise=self.color_noise * strength,
        )


#: No defects at all and no range limits (every surface gets its exact rounded depth).
CLEAN = replace(SensorConfig().scaled(0.0), min_range_mm=1.0, max_range_mm=65535.0)


def draw_sensor_noise(gen: torch.Generator, height: int, width: int) -> dict[str, torch.Tensor]:
    """Per-frame random maps (CPU): gaussian depth noise, uniform maps, blob field, colour noise."""
    bh, bw = max(2, height // 24), max(2, width // 24)
    return {
        "gauss": torch.randn((height, width), generator=gen),
        "u_fly": torch.rand((height, width), generator=gen),
        "u_alpha": torch.rand((height, width), generator=gen),
        "u_hole": torch.rand((height, width), generator=gen),
        "u_salt": torch.rand((height, width), generator=gen),
        "blob": torch.rand((bh, bw), generator=gen),
        "cnoise": torch.randn((height, width, 3), generator=gen),
    }


def _shift(x: torch.Tensor, dx: torch.Tensor, dy: torch.Tensor, fill: float = 0.0) -> torch.Tensor:
    """Shift B×H×W images by integer (dx, dy) per frame (content moves right/down), filling edges."""
    B, H, W = x.shape
    dev = x.device
    jj = torch.arange(W, device=dev).view(1, 1, W) - dx.view(B, 1, 1)
    ii = torch.arange(H, device=dev).view(1, H, 1) - dy.view(B, 1, 1)
    ok = (jj >= 0) & (jj < W) & (ii >= 0) & (ii < H)
    flat = (ii.clamp(0, H - 1) * W + jj.clamp(0, W - 1)).expand(B, H, W).reshape(B, -1)
    out = torch.gather(x.reshape(B, -1), 1, flat).view(B, H, W)
    return torch.where(ok, out, torch.full_like(out, fill))


def _neighbour_minmax(z: torch.Tensor):
    """Min and max over the 3×3 neighbourhood (B×H×W), ignoring invalid (0) pixels for the min."""
    zz = z.unsqueeze(1)
    zmax = F.max_pool2d(zz, 3, 1, 1)
    big = torch.where(zz > 0, zz, torch.full_like(zz, 1e9))
    zmin = -F.max_pool2d(-big, 3, 1, 1)
    return zmin.squeeze(1), zmax.squeeze(1)


def apply_depth_defects(z: torch.Tensor, p: dict[str, torch.Tensor], rnd: dict[str, torch.Tensor],
                        cfg: SensorConfig) -> torch.Tensor:
    """Clean z (B×H×W mm, inf/0 = no surface) → sensor depth (B×H×W int32 mm, 0 invalid).

    ``p``: per-frame strengths (B each): sigma1m, fly, hole, hole_width, dropout, salt, dx, dy.
    ``rnd``: stacked maps from :func:`draw_sensor_noise` on z's device.
    """
    B, H, W = z.shape
    z = torch.where(torch.isfinite(z), z, torch.zeros_like(z))
    z = torch.where((z >= cfg.min_range_mm) & (z <= cfg.max_range_mm), z, torch.zeros_like(z))
    v = lambda k: p[k].view(B, 1, 1)  # noqa: E731
    zmin, zmax = _neighbour_minmax(z)
    jump = 15.0 + 0.03 * z
    edge = (z > 0) & ((zmax - zmin) > jump)
    # flying pixels: mixed depth between near and far side
    fly = edge & (rnd["u_fly"] < v("fly"))
    mix = zmin + rnd["u_alpha"] * (zmax - zmin)
    out = torch.where(fly, mix, z)
    # noise ∝ z²
    out = out + v("sigma1m") * (out / 1000.0) ** 2 * rnd["gauss"]
    # edge holes: dilated edge band
    band1 = F.max_pool2d(edge.float().unsqueeze(1), 3, 1, 1).squeeze(1) > 0
    band2 = F.max_pool2d(edge.float().unsqueeze(1), 5, 1, 2).squeeze(1) > 0
    band = torch.where(v("hole_width") > 1.5, band2, band1)
    holes = band & (rnd["u_hole"] < v("hole"))
    # blobs: low-res noise, bilinear upsampled, thresholded to about `dropout` area
    blob = F.interpolate(rnd["blob"].unsqueeze(1), size=(H, W), mode="bilinear", align_corners=False).squeeze(1)
    blobs = blob < (v("dropout") * 2.5).clamp(max=1.0)
    blobs = blobs & (v("dropout") > 0)
    salt = rnd["u_salt"] < v("salt")
    out = torch.where(holes | blobs | salt, torch.zeros_like(out), out)
    out = torch.where(z > 0, out, torch.zeros_like(out))
    out = _shift(out, p["dx"], p["dy"], 0.0)
    return out.round().clamp(0, 65535).to(torch.int32)


def motion_blur(img: torch.Tensor, length: torch.Tensor, angle: torch.Tensor, max_len: int) -> torch.Tensor:
    """Linear motion blur of B×H×W×3 float images; per-frame length (px) and angle (rad)."""
    B, H, W, _ = img.shape
    if max_len < 2 or float(length.max()) < 1.0:
        return img
    K = int(max_len) | 1
    r = K // 2
    dev = img.device
    c = torch.arange(K, device=dev, dtype=img.dtype) - r
    yy, xx = torch.meshgrid(c, c, indexing="ij")
    dx, dy = torch.cos(angle).view(B, 1, 1), torch.sin(angle).view(B, 1, 1)
    along = xx * dx + yy * dy
    perp = (-xx * dy + yy * dx).abs()
    half = (length.view(B, 1, 1) / 2).clamp(min=0.5)
    w = ((along.abs() <= half) & (perp <= 0.5)).to(img.dtype)
    w[:, r, r] = 1.0
    w = w / w.sum(dim=(1, 2), keepdim=True)
    x = img.permute(0, 3, 1, 2).reshape(1, B * 3, H, W)
    xp = F.pad(x, (r, r, r, r), mode="replicate")
    kern = w.repeat_interleave(3, 0).unsqueeze(1)  # (B*3)×1×K×K
    y = F.conv2d(xp, kern, groups=B * 3)
    return y.view(B, 3, H, W).permute(0, 2, 3, 1)


def finish_color(rgb: torch.Tensor, p: dict[str, torch.Tensor], rnd: dict[str, torch.Tensor],
                 cfg: SensorConfig, width_ref: int) -> torch.Tensor:
    """Float RGB in [0, 1] (B×H×W×3) → blurred, noisy uint8."""
    B, H, W, _ = rgb.shape
    scale = W / 640.0 if width_ref <= 0 else width_ref / 640.0
    max_len = int(round(cfg.motion_blur * scale))
    rgb = motion_blur(rgb, p["blur_len"] * scale, p["blur_angle"], max_len)
    out = rgb * 255.0 + p["cnoise"].view(B, 1, 1, 1) * rnd["cnoise"]
    return out.round().clamp(0, 255).to(torch.uint8)
