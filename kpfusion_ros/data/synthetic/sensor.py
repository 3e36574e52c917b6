"""RGB-D sensor models: the active depth cameras people use, and the colour camera beside them.

A depth camera does not return the surface the renderer hit. :func:`simulate_depth` turns
the renderer's clean depth (plus its normals and albedo) into what one of these cameras
would publish, for a batch of frames or of crops, on any device:

* **structured light** (``"sr300"``, Intel RealSense SR300/SR305, F-PHAB's camera): a
  projector beside the IR camera; depth by triangulation against the projected code;
* **active stereo** (``"d435"``, ``"d415"``, RealSense D4xx): depth = f·B / disparity from
  two imagers, disparity quantised to 1/32 px, the depth image in the left imager's frame;
* **time of flight** (``"azure_kinect"``, NFOV unbinned): phase measurement, no baseline
  worth the name, mixed ("flying") pixels at edges, low-signal invalidation;
* ``"clean"``: the exact rounded depth (label tests); ``"mixed"``: one of the real cameras,
  drawn per frame.

What each camera does to the depth (all vectorised; the per-camera numbers, with their
sources, are the presets in :data:`SENSORS`):

* **Occlusion band** (the invalid band on one side of foreground edges): a surface point is
  invalid when the projector / second imager, displaced by the baseline ``b`` along x, cannot
  see it past a nearer surface. In the row's disparity d(u) = f·|b|/z(u) (render pixels) a
  point u is hidden iff some u' on the projector's side has u' − d(u') < u − d(u) (for b > 0;
  mirrored for b < 0): a reverse cumulative minimum along the row. A step from z_n to z_f
  leaves a band f·|b|·(1/z_n − 1/z_f) px wide on the far surface, on the side *away* from the
  projector: b < 0 (projector to the left, SR300) → band right of the foreground; b > 0
  (D4xx right imager) → band left of it. Its boundary is jittered by ``band_jitter`` px.
* **Window effects** (stereo / coded-light matching windows): foreground "fattening" by
  ``fattening_px`` (background pixels within that radius of a nearer surface take its
  depth) and **loss of thin structures**: near structures narrower than ``thin_window_px``
  (a grey-scale opening of the depth) are dropped in blobs with probability ``thin_dropout``.
  Both windows are in the camera's native pixels, so a finger of fixed width vanishes
  only beyond the range where it spans fewer pixels than the window.
* **Edges**: at depth discontinuities (3×3 range > 15 mm + 3 % z) a pixel is dropped with
  probability ``edge_dropout`` or takes a depth between the near and far side with
  probability ``flying_pixels`` (mixed pixels; ToF multipath). On the far side of an edge a
  ragged rim of ``rim_px`` (× 0.5–1.5) background pixels is lost (the SR300's few invalid
  pixels beside a foreground on the side away from its shadow).
* **Noise and quantisation**: triangulating cameras get Gaussian noise of σ_d px on the
  disparity f_n·|b|/z (f_n the native focal length), then disparity quantisation
  (``disparity_step_px``), so σ_z = z²·σ_d/(f_n·|b|) and the depth step grows as z²; ToF gets
  σ_z = σ0 + rel·z. A low-frequency component (``wobble``, in units of σ) adds the correlated
  error of real depth maps. Both grow by up to 3× on dark or oblique surfaces (less
  signal). Depth is published in whole millimetres.
* **Holes**: IR return ρ·cos θ·(ref/z)² below ``min_return`` (ρ: IR reflectance, mixed from the
  albedo's luminance; θ: angle between normal and ray) → invalid, as is incidence beyond
  ``max_incidence_deg``; an optional per-pixel ``specular`` map drops specular surfaces in
  blobs; random hole blobs (``dropout``) and isolated pixels (``salt``); out of range → 0.
* **Image border** (stereo): pixels the second imager cannot see at the image's edge (the
  D4xx "left invalid band", f·b/z px wide).
* **Misregistration**: the depth image is shifted by an integer (dx, dy) ≤
  ``misregistration_px`` against colour (labels stay on colour).

How the SR300 preset compares with real SR300 frames: docs/sensor_models.md.

Colour (:func:`simulate_color`): linear motion blur (length relative to a 640 px image, half
the frames sharp), Gaussian defocus, and read + shot noise σ² = read² + shot·I (8-bit levels).

**Determinism.** Every per-frame strength is drawn from the frame's own CPU
``torch.Generator`` by :func:`sample_sensor_params`, which also draws one 32-bit noise *key*.
The noise maps are counter-based: the value at a pixel is a hash of (key, map, absolute pixel
coordinates), so a frame's maps are the same whatever the batch, the device, or the crop
(pass the crop's top-left pixel as ``origin``). Nothing else is random.

**Crops.** Everything is local except the occlusion band, which needs the occluder: on the
projector's side of a crop (left for the SR300, right for D4xx), the crop must extend
f·|b|·(1/z_near − 1/z_far) px beyond the region of interest (up to 60 px for a hand at 0.3 m over
a table at 1 m through an SR300 at 640 px), plus a few pixels on every side for the windows,
edges, blur and the misregistration shift. :func:`crop_margin` computes it per side. Given
the same clean input, a crop with that margin reproduces the full frame's depth and colour
bit for bit (test/test_sensor.py); the renderer's own crop-vs-frame float differences carry
over. An occluder nearer than ``z_near`` and outside the margin leaves a truncated band at the
crop's edge. For a batch of equal-size windows over frames of different cameras ("mixed"),
each window can be placed so that its band margin lies on its own camera's projector side.

API::

    model = get_sensor("sr300")                       # or a SensorModel; names in SENSORS
    p = sample_sensor_params(gen, model)               # per frame, from its torch.Generator
    P = stack_sensor_params([p0, p1, ...], device)     # dict of B tensors
    depth = simulate_depth(z, normal, albedo, cam_full, P, origin=(u0, v0), full_width=W)  # B×H×W int32 mm
    color = simulate_color(rgb, P, origin=(u0, v0), full_width=W)                     # B×H×W×3 uint8
    crop_margin(model, fx, z_near_mm=250)              # {"left", "right", "top", "bottom"} px

"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F

Range = tuple[float, float]

# --------------------------------------------------------------------------- counter-based noise
# A 32-bit integer hash (Wellons' "lowbias32" constants) in int64 arithmetic: every product is
# split so that it stays below 2**63, which keeps it exact and identical on CPU and CUDA.

_M32 = 0xFFFFFFFF
_GOLDEN = 0x9E3779B9


def _mul32(x: torch.Tensor, c: int) -> torch.Tensor:
    return (x * (c & 0xFFFF) + (((x * (c >> 16)) & 0xFFFF) << 16)) & _M32


def _mix32(x: torch.Tensor) -> torch.Tensor:
    x = x ^ (x >> 16)
    x = _mul32(x, 0x7FEB352D)
    x = x ^ (x >> 15)
    x = _mul32(x, 0x846CA68B)
    return x ^ (x >> 16)


def _hash(key: torch.Tensor, stream: int, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """32-bit hash of (key, stream, a, b), broadcast (a, b: integer pixel or lattice coordinates).

    ``key`` (B) is viewed as B×1×1 when ``a`` is 3-d; otherwise all three broadcast as given.
    """
    k = key.view(-1, 1, 1) if key.dim() == 1 and a.dim() == 3 else key
    h = _mix32((k ^ ((stream * _GOLDEN) & _M32)) & _M32)
    h = _mix32(h ^ (a & _M32))
    return _mix32(h ^ (b & _M32))


def _to_uniform(h: torch.Tensor) -> torch.Tensor:
    return ((h >> 8).to(torch.float32) + 0.5) * (1.0 / 16777216.0)  # (0, 1), 24 bits


def pixel_coords(batch: int, height: int, width: int, origin=None, device=None):
    """Absolute pixel coordinates (u: B×1×W, v: B×H×1, int64) of a window whose top-left pixel is ``origin``.

    ``origin``: None (0, 0), a pair (u0, v0) for all frames, or a B×2 tensor.
    """
    if origin is None:
        o = torch.zeros((batch, 2), dtype=torch.long, device=device)
    else:
        o = torch.as_tensor(origin, device=device).long()
        o = o.view(1, 2).expand(batch, 2) if o.dim() == 1 else o.view(batch, 2)
    u = o[:, 0].view(batch, 1, 1) + torch.arange(width, device=device).view(1, 1, width)
    v = o[:, 1].view(batch, 1, 1) + torch.arange(height, device=device).view(1, height, 1)
    return u, v


def noise_uniform(key: torch.Tensor, stream: int, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """U(0, 1) map (B×H×W) of noise stream ``stream`` for frames with keys ``key`` at pixels (u, v)."""
    return _to_uniform(_hash(key, stream, u, v))


def noise_normal(key: torch.Tensor, stream: int, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """N(0, 1) map (B×H×W), by the inverse CDF of :func:`noise_uniform`."""
    return math.sqrt(2.0) * torch.erfinv(2.0 * noise_uniform(key, stream, u, v) - 1.0)


def _coins(key: torch.Tensor, stream: int, idx: tuple[torch.Tensor, ...], u: torch.Tensor,
           v: torch.Tensor) -> torch.Tensor:
    """:func:`noise_uniform` at the pixels ``idx`` = (b, i, j) only (1-d)."""
    b, i, j = idx
    return _to_uniform(_hash(key[b], stream, u[b, 0, j], v[b, i, 0]))


def noise_smooth(key: torch.Tensor, stream: int, u: torch.Tensor, v: torch.Tensor,
                 cell: torch.Tensor) -> torch.Tensor:
    """Smooth value noise in [0, 1] (B×H×W): uniform values on a lattice of ``cell`` px (B), smoothstep-interpolated.

    ``u`` (B×1×W) and ``v`` (B×H×1) as from :func:`pixel_coords`; only the lattice points the
    window touches are hashed.
    """
    B = key.shape[0]
    c = cell.to(torch.float32).clamp(min=1.0).view(B, 1, 1)
    x = u.to(torch.float32) / c  # B×1×W
    y = v.to(torch.float32) / c  # B×H×1
    x0, y0 = torch.floor(x), torch.floor(y)
    tx, ty = x - x0, y - y0
    tx, ty = tx * tx * (3 - 2 * tx), ty * ty * (3 - 2 * ty)
    i0, j0 = x0.long(), y0.long()
    bi = i0.amin(dim=2, keepdim=True)  # B×1×1: first lattice column of each frame's window
    bj = j0.amin(dim=1, keepdim=True)
    li, lj = i0 - bi, j0 - bj  # local lattice indices
    nx, ny = int(li.max()) + 2, int(lj.max()) + 2
    gi = bi + torch.arange(nx, device=u.device).view(1, 1, nx)
    gj = bj + torch.arange(ny, device=u.device).view(1, ny, 1)
    lat = _to_uniform(_hash(key, stream, gi, gj))  # B×ny×nx
    W, H = u.shape[2], v.shape[1]
    a0 = lat.gather(2, li.expand(B, ny, W))
    a1 = lat.gather(2, (li + 1).expand(B, ny, W))
    rows = a0 + (a1 - a0) * tx  # B×ny×W: interpolated along x on every lattice row
    b0 = rows.gather(1, lj.expand(B, H, W))
    b1 = rows.gather(1, (lj + 1).expand(B, H, W))
    return b0 + (b1 - b0) * ty


# Empirical quantiles of noise_smooth (10⁶ samples): P(noise_smooth < t) = frac.
_SMOOTH_FRAC = torch.tensor([0.0, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7,
                             0.8, 0.9, 1.0])
_SMOOTH_T = torch.tensor([0.0, 0.0466, 0.0645, 0.0911, 0.1115, 0.1447, 0.1777, 0.2062, 0.2552, 0.2975, 0.3703,
                          0.436, 0.4981, 0.5596, 0.6245, 0.6975, 0.7897, 1.0])
_SMOOTH_STD = 0.2146  # its standard deviation


def _smooth_threshold(frac: torch.Tensor) -> torch.Tensor:
    """Threshold t with P(noise_smooth < t) ≈ frac (any shape); −1 (nothing below) where frac ≤ 0."""
    fr, tt = _SMOOTH_FRAC.to(frac.device), _SMOOTH_T.to(frac.device)
    f = frac.to(torch.float32).clamp(0, 1)
    i = (torch.bucketize(f, fr) - 1).clamp(0, fr.numel() - 2)
    w = (f - fr[i]) / (fr[i + 1] - fr[i])
    t = tt[i] * (1 - w) + tt[i + 1] * w
    return torch.where(frac > 0, t, torch.full_like(t, -1.0))


# --------------------------------------------------------------------------- models and presets


@dataclass(frozen=True)
class SensorModel:
    """One RGB-D camera: fixed constants and, as (lo, hi), the per-frame randomisation ranges.

    Defaults describe the ideal sensor (``"clean"``). Pixel quantities are in the camera's
    *native* pixels (``native_fx``) unless named otherwise; they are rescaled to the render's
    focal length. ``members`` (non-empty for ``"mixed"``): preset names, one drawn per frame.
    """

    name: str = "clean"
    principle: str = "ideal"  # "ideal" | "structured_light" | "active_stereo" | "tof" | "mixed"
    native_width: int = 640
    native_fx: float = 475.0
    range_mm: Range = (1.0, 65535.0)  # outside: invalid (0)
    baseline_mm: Range = (0.0, 0.0)  # projector / second imager offset along +x (signed)
    disparity_noise_px: Range = (0.0, 0.0)  # σ of the disparity (triangulating cameras)
    disparity_step_px: float = 0.0  # disparity quantisation (0: none)
    depth_noise_mm: Range = (0.0, 0.0)  # σ0 (ToF)
    depth_noise_rel: Range = (0.0, 0.0)  # σ per mm of depth (ToF)
    wobble: Range = (0.0, 0.0)  # low-frequency error, in units of the pixel noise σ
    band_jitter_px: Range = (0.0, 0.0)  # raggedness of the occlusion band's edge (render px)
    edge_dropout: Range = (0.0, 0.0)  # probability an edge pixel is invalid
    rim_px: Range = (0.0, 0.0)  # far side of an edge: invalid within this distance (×0.5–1.5, ragged)
    flying_pixels: Range = (0.0, 0.0)  # probability an edge pixel mixes near and far depth
    fattening_px: Range = (0.0, 0.0)  # foreground dilation radius
    thin_window_px: Range = (0.0, 0.0)  # near structures narrower than this may vanish
    thin_dropout: Range = (0.0, 0.0)  # fraction of such structures that vanish (in blobs)
    min_return: Range = (0.0, 0.0)  # IR return ρ·cosθ·(ref/z)² below this: invalid
    return_ref_mm: float = 1000.0
    ir_albedo: Range = (0.0, 0.0)  # ρ = (1 − m)·0.5 + m·luminance(albedo)
    max_incidence_deg: Range = (90.0, 90.0)  # steeper: invalid
    specular_dropout: Range = (0.0, 0.0)  # with a specular map: fraction of specular area lost
    dropout: Range = (0.0, 0.0)  # area fraction of random hole blobs
    salt: Range = (0.0, 0.0)  # isolated invalid pixels
    image_border: bool = False  # stereo: invalid where the second imager's view ends
    misregistration_px: int = 0  # max |shift| of depth vs colour
    motion_blur_px: float = 0.0  # max blur length at 640 px width (half the frames sharp)
    defocus_px: Range = (0.0, 0.0)  # Gaussian σ at 640 px width
    read_noise: Range = (0.0, 0.0)  # colour σ (8-bit levels)
    shot_noise: Range = (0.0, 0.0)  # colour variance per level of signal
    members: tuple[str, ...] = ()


#: The ideal sensor: exact rounded depth, no colour defects.
CLEAN_SENSOR = SensorModel()

#: Intel RealSense SR300 (SR305: the same depth module), as in F-PHAB. 640×480, fx 475.07
#: (F-PHAB's calibration; Intel's spec: 68° HFOV), range 0.2–1.5 m (Intel). Intel publishes no
#: projector baseline; on the F-PHAB clip (benchmarks/sensor_stats_sr300.json, made by
#: kpfusion_ros/tools/sensor_stats.py) the invalid band lies right of the foreground (projector
#: on the camera's −x side) and its width follows f·b·(1/z_n − 1/z_f) with one b at every
#: disparity bin; b is drawn around the clip's value. On the other side of the foreground a rim of a few
#: pixels of background is lost (``rim_px``), and no step keeps a pixel-adjacent valid pair
#: (no flying pixels). The depth is strongly smoothed: 7×7 plane-fit residuals sit near the
#: 1-mm rounding floor below 1 m, hence the small σ_d and a low-frequency wobble. Holes: the IR
#: return threshold makes dark and far (> ~1.1 m) surfaces drop, as on the clip.
SR300 = SensorModel(
    name="sr300", principle="structured_light", native_width=640, native_fx=475.07,
    range_mm=(200.0, 1500.0), baseline_mm=(-53.0, -43.0),
    disparity_noise_px=(0.003, 0.012), wobble=(1.0, 2.5), band_jitter_px=(0.5, 2.0),
    edge_dropout=(0.1, 0.3), rim_px=(2.0, 4.5), flying_pixels=(0.0, 0.02), thin_window_px=(1.0, 3.0),
    thin_dropout=(0.2, 0.6), min_return=(0.06, 0.14), return_ref_mm=700.0, ir_albedo=(0.3, 0.8),
    max_incidence_deg=(75.0, 85.0), specular_dropout=(0.5, 1.0), dropout=(0.0, 0.02), salt=(0.0, 0.002),
    misregistration_px=2, motion_blur_px=7.0, defocus_px=(0.0, 0.8), read_noise=(1.0, 3.0),
    shot_noise=(0.02, 0.12),
)

#: Intel RealSense D435: 848×480 (Intel's recommended depth mode), 90° HFOV → fx = 424
#: (Intel's subpixel-linearity white paper), baseline 50 mm to the right imager (datasheet; the
#: depth is in the left imager's frame, so the band is left of the foreground and the image's
#: left edge has the "left invalid band"), subpixel RMS 0.08 px (Intel's tuning guide:
#: RMS = z²·subpixel/(f·b)), disparity in 1/32 px steps (white paper). Matching-window effects
#: (fattening, thin-structure loss) are our assumptions (a few px), range 0.17–6 m.
D435 = SensorModel(
    name="d435", principle="active_stereo", native_width=848, native_fx=424.0,
    range_mm=(170.0, 6000.0), baseline_mm=(49.0, 51.0),
    disparity_noise_px=(0.05, 0.12), disparity_step_px=1.0 / 32.0, wobble=(0.5, 1.5), band_jitter_px=(0.5, 2.0),
    edge_dropout=(0.1, 0.4), flying_pixels=(0.05, 0.3), fattening_px=(0.0, 2.5), thin_window_px=(3.0, 7.0),
    thin_dropout=(0.3, 0.9), min_return=(0.002, 0.01), return_ref_mm=1500.0, ir_albedo=(0.3, 0.8),
    max_incidence_deg=(78.0, 87.0), specular_dropout=(0.3, 0.8), dropout=(0.0, 0.03), salt=(0.0, 0.003),
    image_border=True, misregistration_px=2, motion_blur_px=7.0, defocus_px=(0.0, 0.8), read_noise=(1.0, 3.0),
    shot_noise=(0.02, 0.12),
)

#: Intel RealSense D415: 1280×720, 65° HFOV → fx ≈ 1005, baseline 55 mm (datasheet); otherwise as D435.
D415 = replace(D435, name="d415", native_width=1280, native_fx=1005.0, baseline_mm=(54.0, 56.0))

#: Azure Kinect NFOV unbinned: 640×576, fx ≈ 504 (typical factory calibration), range 0.5–3.86 m
#: (Microsoft's hardware spec). Random error σ ≈ 1–2 mm + 0.1 % z (spec: ≤ 17 mm; measured
#: ~1–3 mm at 1 m); mixed / flying pixels and invalidated pixels at edges, low-signal (dark,
#: oblique) invalidation, few shadows (illuminator beside the lens: we assume ~1 cm).
AZURE_KINECT = SensorModel(
    name="azure_kinect", principle="tof", native_width=640, native_fx=504.0,
    range_mm=(500.0, 3860.0), baseline_mm=(8.0, 14.0),
    depth_noise_mm=(0.8, 2.0), depth_noise_rel=(0.0005, 0.0015), wobble=(0.3, 1.0), band_jitter_px=(0.0, 1.0),
    edge_dropout=(0.2, 0.5), flying_pixels=(0.3, 0.7), min_return=(0.01, 0.03), return_ref_mm=2000.0,
    ir_albedo=(0.3, 0.8), max_incidence_deg=(78.0, 86.0), specular_dropout=(0.3, 0.8), dropout=(0.0, 0.01),
    salt=(0.0, 0.002), misregistration_px=2, motion_blur_px=7.0, defocus_px=(0.0, 0.8), read_noise=(1.0, 3.0),
    shot_noise=(0.02, 0.12),
)

#: One of the real cameras, drawn per frame.
MIXED = SensorModel(name="mixed", principle="mixed", members=("sr300", "d435", "d415", "azure_kinect"))

#: Preset registry (name → model).
SENSORS: dict[str, SensorModel] = {m.name: m for m in (CLEAN_SENSOR, SR300, D435, D415, AZURE_KINECT, MIXED)}
_ALIASES = {"sr305": "sr300", "d4xx": "d435", "d455": "d435", "azure": "azure_kinect", "kinect": "azure_kinect",
            "ideal": "clean", "none": "clean"}
_PRESET_INDEX = {name: i for i, name in enumerate(SENSORS)}


def get_sensor(sensor: str | SensorModel) -> SensorModel:
    """The model for a preset name (see :data:`SENSORS`, aliases sr305, d4xx, azure, ...) or the model itself."""
    if isinstance(sensor, SensorModel):
        return sensor
    name = _ALIASES.get(str(sensor).lower(), str(sensor).lower())
    if name not in SENSORS:
        raise ValueError(f"unknown sensor {sensor!r}; choose one of {sorted(SENSORS)} (aliases {sorted(_ALIASES)})")
    return SENSORS[name]


# per-frame parameter ← model range field, in the order they are drawn
_DRAWN = (
    ("baseline_mm", "baseline_mm"), ("sigma_d", "disparity_noise_px"), ("sigma0", "depth_noise_mm"),
    ("sigma_rel", "depth_noise_rel"), ("wobble", "wobble"), ("band_jitter", "band_jitter_px"),
    ("edge_drop", "edge_dropout"), ("rim", "rim_px"), ("fly", "flying_pixels"), ("fatten", "fattening_px"),
    ("thin", "thin_window_px"), ("thin_drop", "thin_dropout"), ("min_return", "min_return"),
    ("ir_albedo", "ir_albedo"), ("max_incidence", "max_incidence_deg"), ("spec_drop", "specular_dropout"),
    ("dropout", "dropout"), ("salt", "salt"), ("defocus", "defocus_px"), ("read_noise", "read_noise"),
    ("shot_noise", "shot_noise"),
)
_N_DRAWS = len(_DRAWN) + 5  # + dx, dy, blur on/off, blur length, blur angle
INT_PARAMS = ("key", "dx", "dy", "preset")


def sample_sensor_params(gen: torch.Generator, sensor: str | SensorModel) -> dict[str, float]:
    """One frame's sensor: every strength drawn from ``gen`` (CPU) within the model's ranges, and its noise key.

    Returns plain numbers (JSON-able); :func:`stack_sensor_params` batches them. ``"mixed"``
    first draws which camera. The number of draws depends only on the model.
    """
    model = get_sensor(sensor)
    if model.members:
        model = get_sensor(model.members[int(torch.randint(len(model.members), (1,), generator=gen))])
    r = torch.rand(_N_DRAWS, generator=gen, dtype=torch.float64).tolist()
    key = int(torch.randint(0, 2**32, (1,), generator=gen))
    p: dict[str, float] = {}
    for i, (name, fld) in enumerate(_DRAWN):
        lo, hi = getattr(model, fld)
        p[name] = lo + (hi - lo) * r[i]
    k = len(_DRAWN)
    m = int(model.misregistration_px)
    p["dx"] = min(int(r[k] * (2 * m + 1)), 2 * m) - m
    p["dy"] = min(int(r[k + 1] * (2 * m + 1)), 2 * m) - m
    p["blur_len"] = model.motion_blur_px * r[k + 3] if r[k + 2] < 0.5 else 0.0
    p["blur_angle"] = math.pi * r[k + 4]
    p.update(key=key, preset=_PRESET_INDEX.get(model.name, -1), native_fx=model.native_fx,
             q_d=model.disparity_step_px, zmin=model.range_mm[0], zmax=model.range_mm[1],
             return_ref=model.return_ref_mm, border=float(model.image_border))
    return p


def stack_sensor_params(rows: list[dict[str, float]], device=None) -> dict[str, torch.Tensor]:
    """Per-frame parameter dicts → dict of B tensors (int64 for key, dx, dy, preset; float32 otherwise)."""
    out = {}
    for k in rows[0]:
        if k in INT_PARAMS:
            out[k] = torch.tensor([int(r[k]) for r in rows], dtype=torch.long, device=device)
        else:
            out[k] = torch.tensor([float(r[k]) for r in rows], dtype=torch.float32, device=device)
    return out


def preset_name(index: int) -> str:
    """Preset name of a frame's ``params["preset"]`` ("custom" for a model outside :data:`SENSORS`)."""
    names = list(SENSORS)
    return names[int(index)] if 0 <= int(index) < len(names) else "custom"


# --------------------------------------------------------------------------- helpers

_BIG = 1.0e7  # "no surface" inside min/max filters
_BAND_TOL = 0.05  # px a ray must pass behind an occluder (float slack on smooth surfaces)
# noise streams
_S_GAUSS, _S_WOBBLE, _S_JITTER, _S_FLY, _S_ALPHA, _S_EDGE, _S_THIN, _S_RETURN, _S_BLOB, _S_SALT, _S_SPEC, _S_RIM = range(12)
_S_COLOR = 16  # 16, 17, 18


def _minpool(x: torch.Tensor, r: int) -> torch.Tensor:
    return -F.max_pool2d(-x.unsqueeze(1), 2 * r + 1, 1, r).squeeze(1)


def _maxpool(x: torch.Tensor, r: int) -> torch.Tensor:
    return F.max_pool2d(x.unsqueeze(1), 2 * r + 1, 1, r).squeeze(1)


def _per_frame(fn, x: torch.Tensor, radius: torch.Tensor) -> torch.Tensor:
    """``fn(x_subset, r)`` for the frames of each distinct radius r ≥ 1 (x itself where r = 0)."""
    out = x.clone()
    for r in sorted({int(a) for a in radius.tolist()} - {0}):
        idx = torch.nonzero(radius == r).squeeze(1)
        out[idx] = fn(x[idx], r)
    return out


def _jump(z: torch.Tensor) -> torch.Tensor:
    """Depth difference (mm) that counts as a discontinuity at depth z."""
    return 15.0 + 0.03 * z


def occlusion_excess(z: torch.Tensor, disparity_scale: torch.Tensor, u: torch.Tensor | None = None) -> torch.Tensor:
    """How far (px) each pixel lies behind the nearest occluder as seen from the projector / second imager.

    ``z``: B×H×W mm (0 = no surface). ``disparity_scale``: B, f·b in px·mm, b the signed offset
    of the projector / second imager along +x (at the render's focal length). A row is its
    own epipolar line: with d = f·|b|/z and b > 0, the result at u is
    (u − d(u)) − min_{u' > u} (u' − d(u')), positive where the ray to the projector passes
    behind a nearer surface; b < 0 is the mirror image. −inf where there is no surface.
    ``u`` (B×1×W, optional): the columns' absolute coordinates (a crop's values then equal the
    full frame's bit for bit); default 0..W−1.
    """
    B, H, W = z.shape
    neg = (disparity_scale < 0).view(B, 1, 1)
    zz = torch.where(neg, z.flip(-1), z)
    d = torch.where(zz > 0, disparity_scale.abs().view(B, 1, 1) / zz.clamp(min=1e-3), torch.zeros_like(zz))
    ua = torch.arange(W, device=z.device).view(1, 1, W).expand(B, 1, W) if u is None else u.expand(B, 1, W)
    ua = ua.to(z.dtype)
    q = torch.where(neg, (-ua).flip(-1), ua) - d  # mirrored frames: the flipped axis runs over −u
    right_min = q.flip(-1).cummin(-1).values.flip(-1)  # min over u' ≥ u
    beyond = torch.cat([right_min[..., 1:], torch.full_like(right_min[..., :1], float("inf"))], -1)
    excess = torch.where(zz > 0, q - beyond, torch.full_like(q, -float("inf")))
    return torch.where(neg, excess.flip(-1), excess)


def occlusion_band(z: torch.Tensor, disparity_scale: torch.Tensor, tol: float = 0.05) -> torch.Tensor:
    """Pixels the projector / second imager cannot see (B×H×W bool): :func:`occlusion_excess` > ``tol`` px."""
    return occlusion_excess(z, disparity_scale) > tol


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


def _params(params: dict, B: int, device) -> dict[str, torch.Tensor]:
    P = {}
    for k, v in params.items():
        t = torch.as_tensor(v, device=device)
        P[k] = t.long() if k in INT_PARAMS else t.to(torch.float32)
        if P[k].numel() != B:
            raise ValueError(f"sensor parameter {k!r} has {P[k].numel()} values for {B} frames")
    return P


# --------------------------------------------------------------------------- depth


def simulate_depth(
    z: torch.Tensor,
    normal: torch.Tensor,
    albedo: torch.Tensor,
    cam: torch.Tensor,
    params: dict,
    origin=None,
    full_width: int | None = None,
    specular: torch.Tensor | None = None,
) -> torch.Tensor:
    """Clean depth → what the frame's camera publishes (B×H×W int32 mm, 0 invalid).

    ``z``: B×H×W mm (inf, NaN or ≤ 0: no surface); ``normal``: B×H×W×3 unit normals facing the
    camera; ``albedo``: B×H×W×3 in [0, 1] (all three as :class:`.render.GBuffer` has them);
    ``cam``: B×4 (fx, fy, cx, cy) of the *full* frame and ``origin`` the window's top-left pixel
    in it ((u0, v0) or B×2; None: (0, 0)) — the convention of :func:`.render.cast`;
    ``params``: :func:`stack_sensor_params` of :func:`sample_sensor_params` (or their dicts'
    values as B-sequences); ``full_width``: the full frame's width (None: this image is the
    full frame; only the D4xx border band uses it); ``specular``: optional B×H×W in [0, 1].
    A window needs :func:`crop_margin`; every value depends on absolute pixel coordinates only,
    so a window with that margin reproduces the full frame's values exactly.
    """
    B, H, W = z.shape
    dev = z.device
    f32 = torch.float32
    P = _params(params, B, dev)

    def pv(k):
        return P[k].view(B, 1, 1)

    z = z.to(f32)
    z = torch.where(torch.isfinite(z) & (z > 0), z, torch.zeros_like(z))
    surf = z > 0
    if "preset" in P and bool((P["preset"] == _PRESET_INDEX["clean"]).all()):  # the ideal sensor: exact depth
        ok = surf & (z >= pv("zmin")) & (z <= pv("zmax"))
        return torch.where(ok, z.round().clamp(0, 65535), torch.zeros_like(z)).to(torch.int32)
    u, v = pixel_coords(B, H, W, origin, dev)
    key = P["key"]
    cam = cam.to(device=dev, dtype=f32)
    fx = cam[:, 0]
    s = fx / P["native_fx"]  # render px per native px (B)
    invalid = ~surf

    # projector / second-imager occlusion, from the clean geometry
    fb = fx * P["baseline_mm"]
    if bool((fb != 0).any()):
        excess = occlusion_excess(z, fb, u)
        band = excess > _BAND_TOL
        idx = torch.nonzero(band, as_tuple=True)
        if idx[0].numel():  # ragged edge: each candidate needs to lie deeper by a random jitter
            jit = P["band_jitter"][idx[0]] * _coins(key, _S_JITTER, idx, u, v)
            band[idx] = excess[idx] > _BAND_TOL + jit
        invalid |= band

    # matching-window effects: thin near structures vanish, the foreground fattens
    zb = torch.where(surf, z, torch.full_like(z, _BIG))
    r_thin = torch.div(torch.round(P["thin"] * s).long(), 2, rounding_mode="floor")
    if bool((r_thin > 0).any()):
        opened = _per_frame(lambda x, r: _minpool(_maxpool(x, r), r), zb, r_thin)
        thin = surf & (opened - zb > _jump(z))
        blob = noise_smooth(key, _S_THIN, u, v, 6.0 * s)
        invalid |= thin & (blob < _smooth_threshold(pv("thin_drop")))
    r_fat = torch.round(P["fatten"] * s).long()
    if bool((r_fat > 0).any()):
        near = _per_frame(_minpool, zb, r_fat)
        fat = (zb - near > _jump(near)) & (near < _BIG)
        z = torch.where(fat, near, z)
        invalid = invalid & ~(fat & ~surf)  # a fattened pixel gains a surface, keeps its other flags
        surf = surf | fat
        zb = torch.where(surf, z, torch.full_like(z, _BIG))

    # the far side of edges: light spilt from the nearer, brighter surface corrupts a rim of
    # background pixels (Chebyshev distance to a nearer surface by iterated 3×3 minima)
    r_rim = P["rim"] * s
    n_rim = int(math.ceil(1.5 * float(r_rim.max()))) if B else 0
    if n_rim >= 1:
        width = r_rim.view(B, 1, 1) * (0.5 + noise_smooth(key, _S_RIM, u, v, 4.0 * s))
        m = zb
        rim = torch.zeros_like(surf)
        for k in range(1, n_rim + 1):
            m = _minpool(m, 1)
            rim |= (zb - m > _jump(m)) & (width >= k)
        invalid |= surf & rim

    # edges: dropout and flying (mixed) pixels
    zmin = _minpool(zb, 1)
    zmax = _maxpool(z, 1)
    edge = surf & (zmax - zmin > _jump(zmin))
    zm = z
    idx = torch.nonzero(edge, as_tuple=True)
    if idx[0].numel():
        fb_ = idx[0]
        p_edge = s[fb_].clamp(max=1.0)  # a native-pixel effect covers a fraction of a coarser render pixel
        fly = _coins(key, _S_FLY, idx, u, v) < P["fly"][fb_] * p_edge
        drop = ~fly & (_coins(key, _S_EDGE, idx, u, v) < P["edge_drop"][fb_] * p_edge)
        alpha = _coins(key, _S_ALPHA, idx, u, v)
        zm = z.clone()
        zm[idx] = torch.where(fly, zmin[idx] + alpha * (zmax[idx] - zmin[idx]), z[idx])
        invalid[idx] = invalid[idx] | drop

    # IR return: reflectance, incidence, distance
    rx = ((u.to(f32) - cam[:, 2].view(B, 1, 1)) / cam[:, 0].view(B, 1, 1)).expand(B, H, W)
    ry = ((v.to(f32) - cam[:, 3].view(B, 1, 1)) / cam[:, 1].view(B, 1, 1)).expand(B, H, W)
    ray = torch.stack([rx, ry, torch.ones_like(rx)], -1)
    ray = ray / ray.norm(dim=-1, keepdim=True)
    cos = (-(normal.to(device=dev, dtype=f32) * ray).sum(-1)).clamp(0.0, 1.0)
    alb = albedo.to(device=dev, dtype=f32)
    lum = 0.2126 * alb[..., 0] + 0.7152 * alb[..., 1] + 0.0722 * alb[..., 2]
    rho = (1.0 - pv("ir_albedo")) * 0.5 + pv("ir_albedo") * lum
    signal = rho * cos
    ret = signal * (pv("return_ref") / zm.clamp(min=1.0)) ** 2
    ret_mod = 0.5 + noise_smooth(key, _S_RETURN, u, v, 12.0 * s)
    invalid |= surf & (ret < pv("min_return") * ret_mod)
    invalid |= surf & (cos < torch.cos(torch.deg2rad(pv("max_incidence"))))
    amp = (0.5 / signal.clamp(min=1e-4)).sqrt().clamp(1.0, 3.0)  # less signal, more noise

    # noise and quantisation
    n = noise_normal(key, _S_GAUSS, u, v)
    if bool((P["wobble"] > 0).any()):
        w = (noise_smooth(key, _S_WOBBLE, u, v, 16.0 * s) - 0.5) / _SMOOTH_STD
        n = n + pv("wobble") * w
    fbn = P["native_fx"] * P["baseline_mm"].abs()
    tri = ((P["sigma_d"] > 0) | (P["q_d"] > 0)) & (fbn > 0)
    out = zm
    if bool(tri.any()):
        fbn3 = fbn.view(B, 1, 1).clamp(min=1e-6)
        d = fbn3 / zm.clamp(min=1.0) + pv("sigma_d") * amp * n
        qd = pv("q_d")
        d = torch.where(qd > 0, torch.round(d / qd.clamp(min=1e-9)) * qd, d)
        out = torch.where(tri.view(B, 1, 1), fbn3 / d.clamp(min=1e-6), out)
    sig = pv("sigma0") + pv("sigma_rel") * zm
    out = out + sig * amp * n

    # holes: specular patches, random blobs, isolated pixels
    if specular is not None and bool((P["spec_drop"] > 0).any()):
        spec = specular.to(device=dev, dtype=f32)
        invalid |= surf & (spec * pv("spec_drop") > noise_smooth(key, _S_SPEC, u, v, 8.0 * s))
    if bool((P["dropout"] > 0).any()):
        invalid |= noise_smooth(key, _S_BLOB, u, v, 24.0 * s) < _smooth_threshold(pv("dropout"))
    if bool((P["salt"] > 0).any()):
        invalid |= noise_uniform(key, _S_SALT, u, v) < pv("salt")

    # range and (stereo) the second imager's field of view at the image edge
    invalid |= (z < pv("zmin")) | (z > pv("zmax"))
    if bool((P["border"] > 0).any()):
        wf = float(W if full_width is None else full_width)
        dr = (fx.view(B, 1, 1) * pv("baseline_mm").abs()) / z.clamp(min=1.0)
        uf = u.to(f32)
        out_of_view = torch.where(pv("baseline_mm") > 0, uf - dr < 0, uf + dr > wf - 1)
        invalid |= (pv("border") > 0) & out_of_view

    out = torch.where(invalid | ~torch.isfinite(out), torch.zeros_like(out), out)
    out = out.round().clamp(0, 65535)
    out = _shift(out, P["dx"], P["dy"], 0.0)
    return out.to(torch.int32)


# --------------------------------------------------------------------------- colour


def _gaussian_blur(img: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """Separable Gaussian blur of B×H×W×3 images, per-frame σ (px; ≤ 0.05: unchanged)."""
    B, H, W, _ = img.shape
    smax = float(sigma.max()) if B else 0.0
    if smax <= 0.05:
        return img
    r = max(1, int(math.ceil(3.0 * smax)))
    x = torch.arange(-r, r + 1, device=img.device, dtype=img.dtype).view(1, -1)
    sg = sigma.to(img.dtype).view(B, 1).clamp(min=1e-3)
    k = torch.exp(-0.5 * (x / sg) ** 2)
    k = torch.where(sg > 0.05, k, (x == 0).to(img.dtype).expand_as(k))
    k = k / k.sum(-1, keepdim=True)
    kern = k.repeat_interleave(3, 0)  # (B*3)×K
    y = img.permute(0, 3, 1, 2).reshape(1, B * 3, H, W)
    y = F.conv2d(F.pad(y, (r, r, 0, 0), mode="replicate"), kern.view(B * 3, 1, 1, -1), groups=B * 3)
    y = F.conv2d(F.pad(y, (0, 0, r, r), mode="replicate"), kern.view(B * 3, 1, -1, 1), groups=B * 3)
    return y.view(B, 3, H, W).permute(0, 2, 3, 1)


def simulate_color(rgb: torch.Tensor, params: dict, origin=None, full_width: int | None = None) -> torch.Tensor:
    """Float RGB in [0, 1] (B×H×W×3) → the colour camera's uint8 image: motion blur, defocus, read + shot noise.

    Blur lengths and σ are relative to a 640 px wide frame (``full_width``; None: this image's
    width). ``origin`` as in :func:`simulate_depth` (the noise follows absolute pixels).
    """
    B, H, W, _ = rgb.shape
    dev = rgb.device
    P = _params(params, B, dev)
    scale = (W if full_width is None else full_width) / 640.0
    length = P["blur_len"] * scale
    rgb = motion_blur(rgb.to(torch.float32), length, P["blur_angle"], int(math.ceil(float(length.max()))) if B else 0)
    rgb = _gaussian_blur(rgb, P["defocus"] * scale)
    u, v = pixel_coords(B, H, W, origin, dev)
    n = torch.stack([noise_normal(P["key"], _S_COLOR + c, u, v) for c in range(3)], -1)
    level = rgb.clamp(0.0, 1.0) * 255.0
    sigma = (P["read_noise"].view(B, 1, 1, 1) ** 2 + P["shot_noise"].view(B, 1, 1, 1) * level).sqrt()
    return (level + sigma * n).round().clamp(0, 255).to(torch.uint8)


# --------------------------------------------------------------------------- crops


def crop_margin(sensor: str | SensorModel, fx: float, z_near_mm: float = 250.0,
                z_far_mm: float | None = None) -> dict[str, int]:
    """Pixels a crop needs beyond its region of interest, per side, for the sensor model to act as on the full frame.

    ``fx``: the render's focal length (px); ``z_near_mm``: the nearest occluder that matters;
    ``z_far_mm``: the farthest surface it can hide (None: the camera's max range). The
    occlusion band needs f·|b|·(1/z_near − 1/z_far) px on the projector's side (left for
    b < 0, right for b > 0); every side needs the filters' reach (3×3 edges, the windows, the
    colour blur, the misregistration shift). Takes the worst case over the randomisation
    ranges (and over the members of ``"mixed"``).
    """
    model = get_sensor(sensor)
    models = [get_sensor(m) for m in model.members] or [model]
    left = right = local = 0
    for m in models:
        s = fx / m.native_fx
        zf = m.range_mm[1] if z_far_mm is None else z_far_mm
        band = fx * max(abs(b) for b in m.baseline_mm) * max(0.0, 1.0 / max(z_near_mm, 1.0) - 1.0 / zf)
        band = int(math.ceil(band)) + 1  # and the occluder's own pixel
        if min(m.baseline_mm) < 0:
            left = max(left, band)
        if max(m.baseline_mm) > 0:
            right = max(right, band)
        r_thin = int(round(m.thin_window_px[1] * s)) // 2  # the opening: two filters of this radius
        r_fat = int(round(m.fattening_px[1] * s))
        edge = 1 if max(m.edge_dropout[1], m.flying_pixels[1]) > 0 else 0  # 3×3 discontinuity test
        r_rim = int(math.ceil(1.5 * m.rim_px[1] * s))
        depth = max(2 * r_thin, r_fat + max(edge, r_rim)) + m.misregistration_px
        blur = max(m.motion_blur_px / 2, 3 * m.defocus_px[1]) * m.native_width * s / 640.0  # colour, render px
        local = max(local, depth, int(math.ceil(blur)) + 1 if blur > 0 else 0)
    return {"left": left + local, "right": right + local, "top": local, "bottom": local}


# --------------------------------------------------------------------------- colour helpers


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
