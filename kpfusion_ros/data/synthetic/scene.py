"""Scene and camera sampling: hands, grasped/nearby objects, clutter, planes, light.

A :class:`SceneSpec` is plain numpy (camera frame, mm) sampled from one frame's
``torch.Generator``; :func:`scene_primitives` turns it into primitive tables for
:mod:`.render`. Instance ids: hands 0..num_hands−1, objects (grasped or near a
hand) :data:`OBJECT_INSTANCE`, everything else (planes, clutter) −1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from . import hand_model as hm
from .hand_model import choice, normal, normalize, randint, uniform
from .sensor import SensorConfig

OBJECT_INSTANCE = 2
BACKGROUND_INSTANCE = -1


@dataclass(frozen=True)
class SceneConfig:
    """What scenes look like (the spec's ranges)."""

    hand_z_mm: tuple[float, float] = (300.0, 1200.0)  # palm-centre depth
    num_hands: int | None = None  # 0, 1, 2; None: 1 (60 %) or 2 (40 %)
    p_left: float = 0.5  # single hand: probability it is a left hand
    p_grasp: float = 0.45  # per hand: holds an object
    p_near_object: float = 0.5  # an object near (often in front of) a hand
    p_occluder: float = 0.15  # a clutter primitive between camera and a hand
    p_edge: float = 0.12  # a hand placed at (partly beyond) the image border
    clutter: tuple[int, int] = (2, 9)  # number of background clutter primitives
    p_skin_clutter: float = 0.3
    p_table: float = 0.8
    fx_640: tuple[float, float] = (570.0, 650.0)  # focal length for a 640 px wide image


@dataclass
class HandState:
    shape: hm.HandShape
    pose: np.ndarray  # POSE_DIM
    R: np.ndarray  # hand frame → camera (3×3, proper rotation)
    t: np.ndarray  # hand frame origin (the wrist) in the camera frame


@dataclass
class Solid:
    """Sphere / box / capsule (cylinder-like) object or clutter item (camera frame)."""

    kind: str  # "sphere" | "box" | "capsule"
    center: np.ndarray
    R: np.ndarray  # columns: the object's axes (capsule axis = column 1)
    size: np.ndarray  # sphere: (r,0,0); box: half extents; capsule: (r, half_len, 0)
    color: np.ndarray
    tex: np.ndarray  # 10
    instance: int = BACKGROUND_INSTANCE


@dataclass
class Background:
    planes: list[tuple[np.ndarray, float, np.ndarray, np.ndarray]]  # (n, d, color, tex)
    clutter: list[Solid]
    light: dict[str, np.ndarray]


@dataclass
class SceneSpec:
    width: int
    height: int
    cam: np.ndarray  # fx fy cx cy (full image)
    hands: list[HandState]
    objects: list[Solid]
    background: Background
    sensor: dict[str, float] = field(default_factory=dict)


# --------------------------------------------------------------------------- helpers


def random_rotation(gen) -> np.ndarray:
    q = normalize(normal(gen, 4))
    w, x, y, z = q
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ])


def texture(gen, amp: tuple[float, float], freq: tuple[float, float], sharp: tuple[float, float]) -> np.ndarray:
    f1 = normalize(normal(gen, 3)) * uniform(gen, *freq)
    f2 = normalize(normal(gen, 3)) * uniform(gen, *freq)
    return np.concatenate([[uniform(gen, *amp), uniform(gen, *sharp)], f1, f2, uniform(gen, 0, 2 * math.pi, 2)])


def skin_color(gen) -> np.ndarray:
    t = uniform(gen, 0.0, 1.0)
    return np.clip(((1 - t) * hm.SKIN_LIGHT + t * hm.SKIN_DARK) * uniform(gen, 0.93, 1.07, 3), 0, 1)


def random_color(gen) -> np.ndarray:
    c = uniform(gen, 0.05, 0.95, 3)
    if uniform(gen, 0, 1) < 0.4:  # muted
        c = 0.5 * c + 0.5 * c.mean()
    return c


def backproject_np(u, v, z, cam) -> np.ndarray:
    fx, fy, cx, cy = cam
    return np.array([(u - cx) * z / fx, (v - cy) * z / fy, z])


def sample_camera(gen, width: int, height: int, cfg: SceneConfig) -> np.ndarray:
    s = width / 640.0
    fx = uniform(gen, *cfg.fx_640) * s
    fy = fx * uniform(gen, 0.995, 1.005)
    cx = (width - 1) / 2 + uniform(gen, -8, 8) * s
    cy = (height - 1) / 2 + uniform(gen, -8, 8) * s
    return np.array([fx, fy, cx, cy])


def sample_orientation(gen) -> np.ndarray:
    """Hand frame → camera rotation; fingers tend to point up (−y) so forearms leave downwards."""
    d = normalize(normal(gen, 3) * 0.9 + np.array([0.0, -1.0, 0.15]))
    d = normalize(np.array([d[0], d[1], min(d[2], 0.25)]))  # forearms do not come straight at the camera
    n = normal(gen, 3)
    return hm.frame_from(d, n - np.dot(n, d) * d + 1e-6 * np.array([0, 0, -1.0]))


def place_hand(shape: hm.HandShape, R: np.ndarray, u: float, v: float, z: float, cam) -> np.ndarray:
    """Wrist position so that the palm centre projects to (u, v) at depth z."""
    c = backproject_np(u, v, z, cam)
    return c - R @ hm.palm_center_local(shape)


def sample_pixel(gen, width, height, cfg: SceneConfig) -> tuple[float, float]:
    if uniform(gen, 0, 1) < cfg.p_edge:
        side = randint(gen, 0, 4)
        a = uniform(gen, -0.04, 0.07)
        b = uniform(gen, 0.1, 0.9)
        fu, fv = [(a, b), (1 - a, b), (b, a), (b, 1 - a)][side]
    else:
        fu, fv = uniform(gen, 0.15, 0.85), uniform(gen, 0.15, 0.85)
    return fu * width, fv * height


def grasp_object(gen, hand: HandState) -> tuple[Solid, float, np.ndarray, np.ndarray]:
    """An object in the palm of ``hand``; returns it, its grip size (mm) and its hand-frame pose."""
    s = hand.shape.scale
    kind = ("sphere", "capsule", "box")[choice(gen, (0.3, 0.4, 0.3))]
    if kind == "sphere":
        size = np.array([uniform(gen, 22.0, 45.0), 0, 0])
        thick = size[0]
        Rl = np.eye(3)
    elif kind == "capsule":
        size = np.array([uniform(gen, 17.0, 38.0), uniform(gen, 30.0, 90.0), 0])
        thick = size[0]
        Rl = hm.rot_z(math.pi / 2 + uniform(gen, -0.4, 0.4))  # axis across the palm
    else:
        size = np.array([uniform(gen, 22.0, 45.0), uniform(gen, 18.0, 40.0), uniform(gen, 15.0, 32.0)])
        thick = size[2]
        Rl = hm.rot_z(uniform(gen, -0.3, 0.3))
    c_local = np.array([0.0, 62.0 * s, 11.0 * s + thick + uniform(gen, 0.0, 6.0)])
    color = random_color(gen)
    obj = Solid(kind, hand.R @ c_local + hand.t, hand.R @ Rl, size, color,
                texture(gen, (0.0, 0.35), (0.02, 0.2), (0.5, 8.0)), OBJECT_INSTANCE)
    return obj, thick, c_local, Rl


def random_solid(gen, center: np.ndarray, size_range: tuple[float, float], color: np.ndarray,
                 instance: int) -> Solid:
    kind = ("sphere", "capsule", "box")[choice(gen, (0.3, 0.3, 0.4))]
    a = uniform(gen, *size_range)
    if kind == "sphere":
        size = np.array([a, 0, 0])
    elif kind == "capsule":
        size = np.array([a * uniform(gen, 0.2, 0.6), a, 0])
    else:
        size = a * uniform(gen, 0.3, 1.0, 3)
    return Solid(kind, center, random_rotation(gen), size, color,
                 texture(gen, (0.0, 0.5), (0.01, 0.15), (0.5, 10.0)), instance)


def sample_background(gen, width: int, height: int, cam: np.ndarray, hand_z: float, cfg: SceneConfig,
                      anchor_uv: list[tuple[float, float, float]]) -> Background:
    """Planes (wall + optional table), clutter, occluders in front of anchors (u, v, z), light."""
    planes = []
    z_wall = hand_z + uniform(gen, 350.0, 2200.0)
    n = normalize(np.array([uniform(gen, -0.35, 0.35), uniform(gen, -0.35, 0.35), -1.0]))
    p0 = np.array([0.0, 0.0, z_wall])
    planes.append((n, float(n @ p0), random_color(gen) * uniform(gen, 0.6, 1.0),
                   texture(gen, (0.0, 0.5), (0.005, 0.08), (0.3, 10.0))))
    if uniform(gen, 0, 1) < cfg.p_table:
        th = uniform(gen, 0.3, 1.35)
        n = normalize(hm.rot_z(uniform(gen, -0.3, 0.3)) @ np.array([0.0, -math.sin(th), -math.cos(th)]))
        z_t = hand_z + uniform(gen, 60.0, 600.0)
        p0 = backproject_np(cam[2], height * uniform(gen, 0.5, 1.1), z_t, cam)
        planes.append((n, float(n @ p0), random_color(gen),
                       texture(gen, (0.05, 0.5), (0.01, 0.12), (0.3, 10.0))))
    clutter = []
    for _ in range(randint(gen, cfg.clutter[0], cfg.clutter[1] + 1)):
        u, v = uniform(gen, -0.1, 1.1) * width, uniform(gen, -0.1, 1.1) * height
        z = hand_z + uniform(gen, 80.0, 1500.0)
        col = skin_color(gen) if uniform(gen, 0, 1) < cfg.p_skin_clutter else random_color(gen)
        clutter.append(random_solid(gen, backproject_np(u, v, z, cam), (25.0, 180.0), col, BACKGROUND_INSTANCE))
    for (u, v, z) in anchor_uv:
        if uniform(gen, 0, 1) < cfg.p_occluder:
            du, dv = uniform(gen, -60, 60, 2) * width / 640.0
            zo = z - uniform(gen, 60.0, 200.0)
            if zo > 200:
                col = skin_color(gen) if uniform(gen, 0, 1) < cfg.p_skin_clutter else random_color(gen)
                clutter.append(random_solid(gen, backproject_np(u + du, v + dv, zo, cam), (15.0, 45.0), col,
                                            BACKGROUND_INSTANCE))
    ld = normalize(np.array([uniform(gen, -1, 1), uniform(gen, -1.2, 0.3), -uniform(gen, 0.3, 1.5)]))
    light = {
        "dir": ld,
        "ambient": np.array(uniform(gen, 0.25, 0.5)),
        "diffuse": np.array(uniform(gen, 0.45, 0.85)),
        "specular": np.array(uniform(gen, 0.0, 0.15)),
        "rgb": 1.0 + uniform(gen, -0.12, 0.12, 3),
        "falloff": np.array(uniform(gen, 0.0, 0.8)),
        "background": random_color(gen) * 0.3,
    }
    return Background(planes, clutter, light)


def sample_sensor(gen, cfg: SensorConfig) -> dict[str, float]:
    m = cfg.misregistration
    return {
        "sigma1m": uniform(gen, 0.4, 1.0) * cfg.depth_noise,
        "fly": uniform(gen, 0.0, 1.0) * cfg.flying_pixels,
        "hole": uniform(gen, 0.2, 1.0) * cfg.edge_holes,
        "hole_width": uniform(gen, 1.0, 2.0),
        "dropout": uniform(gen, 0.0, 1.0) * cfg.dropout,
        "salt": uniform(gen, 0.0, 0.003) * (cfg.dropout > 0),
        "dx": float(randint(gen, -m, m + 1)) if m > 0 else 0.0,
        "dy": float(randint(gen, -m, m + 1)) if m > 0 else 0.0,
        "blur_len": uniform(gen, 0.0, cfg.motion_blur) if uniform(gen, 0, 1) < 0.5 else 0.0,
        "blur_angle": uniform(gen, 0.0, math.pi),
        "cnoise": uniform(gen, 0.3, 1.0) * cfg.color_noise,
    }


def sample_scene(gen: torch.Generator, width: int, height: int, cfg: SceneConfig,
                 sensor: SensorConfig, cam: np.ndarray | None = None) -> SceneSpec:
    """One random frame: camera, 0–2 hands (with grasped / nearby objects), background, sensor."""
    cam = sample_camera(gen, width, height, cfg) if cam is None else np.asarray(cam, dtype=np.float64)
    nh = cfg.num_hands
    if nh is None:
        nh = 1 if uniform(gen, 0, 1) < 0.6 else 2
    if nh == 1:
        sides = [uniform(gen, 0, 1) >= cfg.p_left]
    elif nh == 2:
        sides = [True, False] if uniform(gen, 0, 1) < 0.5 else [False, True]
    else:
        sides = []
    hands, objects, anchors = [], [], []
    z0 = uniform(gen, *cfg.hand_z_mm)
    for i, right in enumerate(sides):
        shape = hm.sample_shape(gen, right)
        R = sample_orientation(gen)
        z = z0 if i == 0 else float(np.clip(z0 + uniform(gen, -200, 200), *cfg.hand_z_mm))
        for _try in range(6):
            u, v = sample_pixel(gen, width, height, cfg)
            t = place_hand(shape, R, u, v, z, cam)
            if not hands or np.linalg.norm((R @ hm.palm_center_local(shape) + t)
                                           - (hands[0].R @ hm.palm_center_local(hands[0].shape) + hands[0].t)) > 140:
                break
        hand = HandState(shape, np.zeros(hm.POSE_DIM), R, t)
        if uniform(gen, 0, 1) < cfg.p_grasp:
            obj, size, _, _ = grasp_object(gen, hand)
            hand.pose = hm.sample_pose(gen, "grasp", size)
            objects.append(obj)
        else:
            hand.pose = hm.sample_pose(gen)
            if uniform(gen, 0, 1) < cfg.p_near_object:
                off = normalize(normal(gen, 3)) * uniform(gen, 50.0, 160.0)
                off[2] = -abs(off[2]) if uniform(gen, 0, 1) < 0.6 else off[2]
                c = R @ hm.palm_center_local(shape) + t + off
                if c[2] > 200:
                    objects.append(random_solid(gen, c, (20.0, 60.0), random_color(gen), OBJECT_INSTANCE))
        hands.append(hand)
        anchors.append((u, v, z))
    bg = sample_background(gen, width, height, cam, z0, cfg, anchors)
    return SceneSpec(width, height, cam, hands, objects, bg, sample_sensor(gen, sensor))


# --------------------------------------------------------------------------- primitives


@dataclass
class HandLabels:
    joints: np.ndarray  # 21×3 camera frame (mm)
    joint_radius: np.ndarray  # 21
    is_right: bool


def _solid_prims(o: Solid, out: dict):
    attr = np.concatenate([o.color, [o.instance], o.tex])
    if o.kind == "sphere":
        out["capsule"].append((np.concatenate([o.center, o.center, [o.size[0]]]), attr))
    elif o.kind == "capsule":
        ax = o.R[:, 1] * o.size[1]
        out["capsule"].append((np.concatenate([o.center - ax, o.center + ax, [o.size[0]]]), attr))
    else:
        out["box"].append((np.concatenate([o.center, o.R.reshape(-1), o.size]), attr))


def scene_primitives(scene: SceneSpec, gen_tex: torch.Generator | None = None):
    """Primitive rows per type ({type: [(geom, attr), ...]}) and the hands' labels."""
    out: dict[str, list] = {"capsule": [], "ellipsoid": [], "box": [], "plane": []}
    labels = []
    for hi, h in enumerate(scene.hands):
        J, mcps = hm.forward_kinematics(h.shape, h.pose)
        geo = hm.hand_geometry(h.shape, J, mcps)
        A = geo.cap_a @ h.R.T + h.t
        Bp = geo.cap_b @ h.R.T + h.t
        skin = h.shape.skin
        # deterministic skin texture from the hand's own colour (no RNG needed)
        f = 0.35 / max(h.shape.scale, 0.5)
        skin_tex = np.array([0.05, 1.0, f, 0.3 * f, 0.2 * f, -0.2 * f, f, 0.4 * f, 0.0, 1.0])
        for k in range(len(geo.cap_r)):
            if geo.cap_part[k] == hm.PART_SLEEVE:
                col, tex = h.shape.sleeve, np.array([0.12, 2.0, 0.3, 0, 0, 0, 0.05, 0.3, 0, 0])
            else:
                col, tex = skin * (1.0 + 0.02 * math.sin(3.1 * k)), skin_tex
            out["capsule"].append((np.concatenate([A[k], Bp[k], [geo.cap_r[k]]]),
                                   np.concatenate([col, [hi], tex])))
        Aell = np.diag(1.0 / geo.ell_axes) @ h.R.T  # camera → unit sphere
        out["ellipsoid"].append((np.concatenate([h.R @ geo.ell_center + h.t, Aell.reshape(-1)]),
                                 np.concatenate([skin * 1.02, [hi], skin_tex])))
        labels.append(HandLabels(J @ h.R.T + h.t, geo.joint_radius, h.shape.is_right))
    for o in scene.objects:
        _solid_prims(o, out)
    for o in scene.background.clutter:
        _solid_prims(o, out)
    for n, d, col, tex in scene.background.planes:
        out["plane"].append((np.concatenate([n, [d]]), np.concatenate([col, [BACKGROUND_INSTANCE], tex])))
    return out, labels
