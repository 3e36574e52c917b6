"""Frames from scenes: batching, rendering, sensor defects, labels; the frame dataclasses."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from ...joints import NUM_JOINTS
from .render import ATTR_DIM, GEOM_DIM, TYPES, PrimTable, cast, shade
from .scene import SceneConfig, SceneSpec, sample_scene, scene_primitives
from .sensor import SensorModel, get_sensor, simulate_color, simulate_depth, stack_sensor_params

VIS_MARGIN_MM = 6.0  # a joint is visible if the first surface on its pixel is < radius + this in front


@dataclass(frozen=True)
class SyntheticConfig:
    """Everything that defines the distribution of frames (with the seed)."""

    width: int = 640
    height: int = 480
    scene: SceneConfig = field(default_factory=SceneConfig)
    #: The RGB-D camera (:mod:`.sensor`): a preset name ("sr300", "d435", "d415", "azure_kinect",
    #: "mixed" = one of them per frame, "clean") or a SensorModel.
    sensor: str | SensorModel = "mixed"
    clean: bool = False  # no sensor defects at all (label tests): the "clean" sensor
    roi: tuple[int, int, int, int] | None = None  # render only this window (u0, v0, w, h)

    @property
    def effective_sensor(self) -> SensorModel:
        return get_sensor("clean" if self.clean else self.sensor)


@dataclass
class HandFrame:
    """One aligned RGB-D frame with its labels (numpy).

    color: H×W×3 uint8 RGB; depth: H×W uint16 mm (0 invalid), aligned to colour up
    to the injected misregistration; cam: (fx, fy, cx, cy) float32 of *this* image
    (a window render has cx, cy shifted); joints_mm: num_hands×21×3 float32 camera
    frame (x right, y down, z forward), joints.py order; handedness: 'left'/'right'
    per hand; visible: num_hands×21 bool (in the image and not occluded: the first
    surface on the joint's pixel is less than joint_radius_mm + 6 mm in front of it);
    instance: H×W int8 (-1 background, 0..num_hands-1 hand incl. forearm,
    2 = object held by / near a hand); joint_radius_mm: num_hands×21 float32 (how far
    in front of each joint the hand surface may be); depth_clean: H×W float32 mm of the
    noise-free surface (0 = none) when requested.
    """

    color: np.ndarray
    depth: np.ndarray
    cam: np.ndarray
    joints_mm: np.ndarray
    handedness: tuple[str, ...]
    visible: np.ndarray
    instance: np.ndarray
    joint_radius_mm: np.ndarray
    seed: int = 0
    index: int = 0
    stamp: float = 0.0
    depth_clean: np.ndarray | None = None

    @property
    def num_hands(self) -> int:
        return int(self.joints_mm.shape[0])

    @property
    def is_right(self) -> np.ndarray:
        return np.array([h == "right" for h in self.handedness], dtype=bool)

    @property
    def height(self) -> int:
        return int(self.color.shape[0])

    @property
    def width(self) -> int:
        return int(self.color.shape[1])


@dataclass
class FrameBatch:
    """B frames as tensors on the rendering device (hands padded to 2).

    color B×H×W×3 uint8, depth B×H×W int32 mm (0 invalid), cam B×4, joints_mm B×2×21×3,
    hand_valid B×2 bool, is_right B×2 bool, visible B×2×21 bool, instance B×H×W int8,
    joint_radius_mm B×2×21, depth_clean B×H×W float (0 none) or None.
    """

    color: torch.Tensor
    depth: torch.Tensor
    cam: torch.Tensor
    joints_mm: torch.Tensor
    hand_valid: torch.Tensor
    is_right: torch.Tensor
    visible: torch.Tensor
    instance: torch.Tensor
    joint_radius_mm: torch.Tensor
    seeds: list[int]
    indices: list[int]
    stamps: list[float]
    depth_clean: torch.Tensor | None = None

    def frames(self) -> list[HandFrame]:
        out = []
        for b in range(self.color.shape[0]):
            n = int(self.hand_valid[b].sum())
            out.append(HandFrame(
                color=self.color[b].cpu().numpy(),
                depth=self.depth[b].cpu().numpy().astype(np.uint16),
                cam=self.cam[b].cpu().numpy().astype(np.float32),
                joints_mm=self.joints_mm[b, :n].cpu().numpy().astype(np.float32),
                handedness=tuple("right" if r else "left" for r in self.is_right[b, :n].tolist()),
                visible=self.visible[b, :n].cpu().numpy(),
                instance=self.instance[b].cpu().numpy(),
                joint_radius_mm=self.joint_radius_mm[b, :n].cpu().numpy().astype(np.float32),
                seed=self.seeds[b], index=self.indices[b], stamp=self.stamps[b],
                depth_clean=None if self.depth_clean is None else self.depth_clean[b].cpu().numpy(),
            ))
        return out


def frame_seed(seed: int, index: int) -> int:
    """A 63-bit generator seed for frame ``index`` of stream ``seed`` (splitmix64 mix)."""
    x = (int(seed) * 0x9E3779B97F4A7C15 + int(index) * 0xD1B54A32D192ED03 + 0x632BE59BD9B4E019) & (2**64 - 1)
    for _ in range(2):
        x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & (2**64 - 1)
        x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & (2**64 - 1)
        x ^= x >> 31
    return x & (2**63 - 1)


def frame_generator(seed: int, index: int) -> torch.Generator:
    g = torch.Generator(device="cpu")
    g.manual_seed(frame_seed(seed, index))
    return g


def _stack_prims(rows: list[dict], device, dtype) -> dict[str, PrimTable]:
    B = len(rows)
    out = {}
    for kind in TYPES:
        N = max(len(r[kind]) for r in rows)
        geom = np.zeros((B, N, GEOM_DIM[kind]))
        attr = np.zeros((B, N, ATTR_DIM))
        valid = np.zeros((B, N), dtype=bool)
        if kind == "ellipsoid":
            geom[..., 3:12] = np.eye(3).reshape(-1)
        if kind == "box":
            geom[..., 3:12] = np.eye(3).reshape(-1)
        for b, r in enumerate(rows):
            for i, (g, a) in enumerate(r[kind]):
                geom[b, i], attr[b, i], valid[b, i] = g, a, True
        out[kind] = PrimTable(torch.as_tensor(geom, dtype=dtype, device=device),
                              torch.as_tensor(attr, dtype=dtype, device=device),
                              torch.as_tensor(valid, device=device))
    return out


LIGHT_KEYS = ("dir", "ambient", "diffuse", "specular", "rgb", "falloff", "background", "shadow")


def light_tensors(scenes: list[SceneSpec], device) -> list[torch.Tensor]:
    """The scenes' lights as the positional arguments of :func:`~.render.shade` after the G-buffer."""
    return [torch.as_tensor(np.stack([np.asarray(s.background.light.get(k, 0.0), dtype=np.float64) for s in scenes]),
                            dtype=torch.float32, device=device) for k in LIGHT_KEYS]


def render_scenes(
    scenes: list[SceneSpec],
    gens: list[torch.Generator],
    sensor: SensorModel,
    device: str | torch.device = "cpu",
    roi: tuple[int, int, int, int] | None = None,
    keep_clean: bool = False,
    seeds: list[int] | None = None,
    indices: list[int] | None = None,
    stamps: list[float] | None = None,
) -> FrameBatch:
    """Render B scenes (same size) in one batched call; each scene's ``sensor`` holds its sampled
    camera parameters (:func:`.sensor.sample_sensor_params`; ``gens`` and ``sensor`` are kept for
    the callers' symmetry, the noise comes from the parameters' keys)."""
    device = torch.device(device)
    dtype = torch.float32
    B = len(scenes)
    W, H = scenes[0].width, scenes[0].height
    u0, v0, w, h = roi if roi is not None else (0, 0, W, H)
    rows, labels = zip(*(scene_primitives(s) for s in scenes))
    prims = _stack_prims(list(rows), device, dtype)
    cam_full = torch.as_tensor(np.stack([s.cam for s in scenes]), dtype=dtype, device=device)
    gb = cast(prims, cam_full, h, w, origin=(u0, v0))
    rgb = shade(gb, *light_tensors(scenes, device))
    P = stack_sensor_params([sc.sensor for sc in scenes], device)
    color = simulate_color(rgb, P, origin=(u0, v0), full_width=W)
    depth = simulate_depth(gb.z, gb.normal, gb.albedo, cam_full, P, origin=(u0, v0), full_width=W)
    # labels
    cam = cam_full.clone()
    cam[:, 2] -= u0
    cam[:, 3] -= v0
    joints = torch.zeros((B, 2, NUM_JOINTS, 3), dtype=dtype)
    jr = torch.zeros((B, 2, NUM_JOINTS), dtype=dtype)
    valid = torch.zeros((B, 2), dtype=torch.bool)
    right = torch.zeros((B, 2), dtype=torch.bool)
    for b, lab in enumerate(labels):
        for i, l in enumerate(lab[:2]):
            joints[b, i] = torch.as_tensor(l.joints, dtype=dtype)
            jr[b, i] = torch.as_tensor(l.joint_radius, dtype=dtype)
            valid[b, i] = True
            right[b, i] = l.is_right
    joints, jr, valid, right = (x.to(device) for x in (joints, jr, valid, right))
    visible = visibility(joints, jr, valid, cam, gb.z)
    depth_clean = None
    if keep_clean:
        depth_clean = torch.where(torch.isfinite(gb.z), gb.z, torch.zeros_like(gb.z))
    return FrameBatch(
        color=color, depth=depth, cam=cam, joints_mm=joints, hand_valid=valid, is_right=right,
        visible=visible, instance=gb.inst.to(torch.int8), joint_radius_mm=jr,
        seeds=list(seeds or [0] * B), indices=list(indices or range(B)), stamps=list(stamps or [0.0] * B),
        depth_clean=depth_clean,
    )


def sensor_finish(scenes: list[SceneSpec], full_width: int):
    """The scenes' cameras as a ``finish(z, gbuffer, rgb, pitch)`` callable for :func:`.crops.render_hand_crops`.

    A crop's canvas samples the frame every ``pitch`` full-resolution pixels (OpenCV's nearest
    resize picks every ⌊pitch⌋-th or ⌈pitch⌉-th pixel), so the sensor model runs on it as on a
    window of the same camera at 1/pitch of the resolution: intrinsics and frame width divided
    by ``pitch``, the window's origin at the crop's first pixel. Pixel-sized effects (band
    widths, edge rims, windows) then have their size in full-resolution pixels, up to the
    nearest pick's ±1 px; noise follows the virtual camera's pixels. Returns (depth mm float
    K×S×S, colour uint8 K×S×S×3).
    """
    def finish(z, gb, rgb, pitch):
        dev = z.device
        P = stack_sensor_params([sc.sensor for sc in scenes], dev)
        s = (1.0 / pitch).to(torch.float32).view(-1, 1)
        cam = gb.cam.to(torch.float32) * s
        origin = torch.stack([gb.us[:, 0], gb.vs[:, 0]], -1).to(torch.float32) * s
        origin = origin.round().long()
        width = int(round(full_width * float(s.median())))
        depth = simulate_depth(z, gb.normal, gb.albedo, cam, P, origin=origin, full_width=width)
        color = simulate_color(rgb, P, origin=origin, full_width=width)
        return depth.to(torch.float32), color
    return finish


def visibility(joints, jr, valid, cam, z) -> torch.Tensor:
    """B×2×21 bool: joint in the image and the first surface on its pixel not > radius+margin in front."""
    B, H, W = z.shape
    fx, fy, cx, cy = (cam[:, i].view(B, 1, 1) for i in range(4))
    zj = joints[..., 2]
    zs = zj.clamp(min=1e-3)
    u = torch.round(joints[..., 0] * fx / zs + cx).long()
    v = torch.round(joints[..., 1] * fy / zs + cy).long()
    inside = (zj > 0) & (u >= 0) & (u < W) & (v >= 0) & (v < H) & valid.unsqueeze(-1)
    idx = (v.clamp(0, H - 1) * W + u.clamp(0, W - 1)).view(B, -1)
    zp = torch.gather(z.reshape(B, -1), 1, idx).view_as(zj)
    return inside & (zp >= zj - (jr + VIS_MARGIN_MM))


def render_batch(
    seed: int,
    indices,
    config: SyntheticConfig | None = None,
    device: str | torch.device = "cpu",
    keep_clean: bool = False,
) -> FrameBatch:
    """Frames ``indices`` of stream ``seed``, rendered in one batched call.

    Each frame is a pure function of (seed, index, config): its scene and its sensor
    noise come from its own generator, so batching does not change it.
    """
    config = config or SyntheticConfig()
    indices = [int(i) for i in indices]
    gens = [frame_generator(seed, i) for i in indices]
    scenes = [sample_scene(g, config.width, config.height, config.scene, config.effective_sensor) for g in gens]
    return render_scenes(scenes, gens, config.effective_sensor, device, config.roi, keep_clean,
                         seeds=[seed] * len(indices), indices=indices, stamps=[0.0] * len(indices))


def render_frame(seed: int, index: int, config: SyntheticConfig | None = None,
                 device: str | torch.device = "cpu", keep_clean: bool = False) -> HandFrame:
    """Frame ``index`` of stream ``seed`` (numpy :class:`HandFrame`)."""
    return render_batch(seed, [index], config, device, keep_clean).frames()[0]


class SyntheticHands(torch.utils.data.Dataset):
    """Map-style dataset: item i is :func:`render_frame` (seed, start + i); works with DataLoader workers.

    Items are :class:`HandFrame`; pass ``collate_fn=list`` (or your own) to a DataLoader.
    For GPU training prefer :meth:`batches` (one batched render per step).
    """

    def __init__(self, seed: int, length: int, config: SyntheticConfig | None = None, start: int = 0):
        self.seed, self.length, self.config, self.start = seed, length, config or SyntheticConfig(), start

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, i: int) -> HandFrame:
        if not 0 <= i < self.length:
            raise IndexError(i)
        return render_frame(self.seed, self.start + i, self.config)

    def batches(self, batch_size: int, device: str | torch.device = "cpu", keep_clean: bool = False):
        """Yield :class:`FrameBatch` of consecutive indices, rendered on ``device``."""
        for s in range(0, self.length, batch_size):
            idx = range(self.start + s, self.start + min(s + batch_size, self.length))
            yield render_batch(self.seed, idx, self.config, device, keep_clean)
