"""Scene and camera sampling: hands, grasped objects, table-top clutter, planes, light.

A :class:`SceneSpec` is plain numpy (camera frame, mm) sampled from one frame's
``torch.Generator``; :func:`scene_primitives` turns it into primitive tables for
:mod:`.render`. Instance ids: hands 0..num_hands−1 (with their forearm and arm),
objects held by or near a hand :data:`OBJECT_INSTANCE`, everything else −1.

Three kinds of view (``SceneConfig.views`` weights), built to contain what real
frames contain and what breaks hand finding on them:

* **free** — hands in front of a wall, any orientation, optional table, clutter,
  objects near or in front of the hand (the original distribution);
* **egocentric** — a head/shoulder camera pitched 30–65° down at a table
  0.5–1.2 m away with cups, mugs, plates, bottles, boxes, fruit and bowls on it and a
  tiled wall behind; the arm enters from the bottom edge, the hand 0.25–0.6 m away,
  usually holding something;
* **table-top** (third person) — a camera 0.4–1.3 m from a hand over a table, the arm
  (forearm and upper arm) entering from the left, right, bottom or top edge, table
  clutter beside and behind the hand.

Grasps (:mod:`.grasp`) put real-sized objects in the hand with finger contact.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from . import hand_model as hm
from .grasp import GraspObject, make_grasp
from .hand_model import choice, normal, normalize, randint, uniform
from .sensor import SensorModel, sample_sensor_params

OBJECT_INSTANCE = 2
BACKGROUND_INSTANCE = -1
VIEWS = ("free", "ego", "table")


@dataclass(frozen=True)
class SceneConfig:
    """What scenes look like (the spec's ranges)."""

    hand_z_mm: tuple[float, float] = (300.0, 1200.0)  # palm-centre depth (free view)
    num_hands: int | None = None  # 0, 1, 2; None: 1 (60 %) or 2 (40 %)
    p_left: float = 0.5  # single hand: probability it is a left hand
    p_grasp: float = 0.45  # per hand: holds an object (free view; ego 0.7, table 0.55)
    p_near_object: float = 0.5  # an object near (often in front of) a hand
    p_occluder: float = 0.15  # a clutter primitive between camera and a hand
    p_edge: float = 0.12  # a hand placed at (partly beyond) the image border (free view)
    clutter: tuple[int, int] = (2, 9)  # number of background clutter primitives (free view)
    p_skin_clutter: float = 0.3
    p_table: float = 0.8  # free view: a table plane
    fx_640: tuple[float, float] = (440.0, 660.0)  # focal length for a 640 px wide image (HFOV 52°–72°)
    #: Weights of the free, egocentric and table-top views.
    views: tuple[float, float, float] = (0.3, 0.35, 0.35)
    ego_hand_z_mm: tuple[float, float] = (250.0, 600.0)
    table_hand_z_mm: tuple[float, float] = (400.0, 1200.0)
    table_items: tuple[int, int] = (3, 10)  # objects standing on the table (ego, table-top)
    #: Per hand, any view: a household object (bottle, can, cup, mug, box, …, real sizes) just in front of the
    #: hand, between it and the camera, over part of it: a hand holding something up, seen from behind what it
    #: holds (F-PHAB's bottle). 0 = none, and the stream of before (no draw is made). Frames of
    #: :func:`sample_scene` only (training crops, evaluation frames); sequences do not draw it.
    p_front_object: float = 0.0


@dataclass
class HandState:
    shape: hm.HandShape
    pose: np.ndarray  # POSE_DIM
    R: np.ndarray  # hand frame → camera (3×3, proper rotation)
    t: np.ndarray  # hand frame origin (the wrist) in the camera frame
    held: GraspObject | None = None  # the held object in the hand frame (mirrored with a left hand)


@dataclass
class Solid:
    """An object or clutter item (camera frame).

    kind: "sphere" (size r), "box" (half extents), "capsule" (r, half length),
    "cylinder" and "mug" (r, half length; axis = column 1 of R), "ellipsoid" (semi-axes).
    """

    kind: str
    center: np.ndarray
    R: np.ndarray  # columns: the object's axes
    size: np.ndarray
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
    sensor: dict[str, float] = field(default_factory=dict)  # the camera's per-frame parameters (.sensor)
    view: str = "free"


# --------------------------------------------------------------------------- helpers


def quaternion_rotations(q) -> np.ndarray:
    """Rotation matrices (…×3×3) of quaternions q (…×4, w x y z; normalised here). Gaussian q: uniform over SO(3)."""
    w, x, y, z = np.moveaxis(normalize(q), -1, 0)
    return np.stack([
        np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)], -1),
        np.stack([2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)], -1),
        np.stack([2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)], -1),
    ], -2)


def random_rotation(gen) -> np.ndarray:
    return quaternion_rotations(normal(gen, 4))


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


def pixel_ray(u, v, cam) -> np.ndarray:
    return normalize(backproject_np(u, v, 1.0, cam))


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


def held_solid(gen, hand: HandState) -> Solid:
    """The camera-frame solid of ``hand.held``."""
    o = hand.held.moved(hand.R, hand.t)
    return Solid(o.kind, o.center, o.R, o.size, random_color(gen),
                 texture(gen, (0.0, 0.4), (0.02, 0.2), (0.5, 8.0)), OBJECT_INSTANCE)


def grasp_hand(gen, hand: HandState, kind: str | None = None) -> Solid:
    """Give ``hand`` a grasp of a real object (pose with contact); returns the camera-frame solid."""
    pose, obj, _ = make_grasp(gen, hand.shape, kind)
    hand.pose = pose
    hand.held = obj if hand.shape.is_right else obj.mirrored_x()
    return held_solid(gen, hand)


def random_solid(gen, center: np.ndarray, size_range: tuple[float, float], color: np.ndarray,
                 instance: int) -> Solid:
    kind = ("sphere", "capsule", "box", "cylinder")[choice(gen, (0.25, 0.2, 0.35, 0.2))]
    a = uniform(gen, *size_range)
    if kind == "sphere":
        size = np.array([a, 0, 0])
    elif kind in ("capsule", "cylinder"):
        size = np.array([a * uniform(gen, 0.2, 0.6), a, 0])
    else:
        size = a * uniform(gen, 0.3, 1.0, 3)
    return Solid(kind, center, random_rotation(gen), size, color,
                 texture(gen, (0.0, 0.5), (0.01, 0.15), (0.5, 10.0)), instance)


def table_item(gen, base: np.ndarray, up: np.ndarray) -> Solid:
    """A household object standing on a table at ``base`` (camera frame), ``up`` the table normal."""
    kind = ("cup", "mug", "plate", "bottle", "box", "fruit", "bowl", "can")[
        choice(gen, (0.15, 0.15, 0.12, 0.14, 0.14, 0.1, 0.08, 0.12))]
    R = hm.frame_from(up, normal(gen, 3))  # column 1 = up
    tex = texture(gen, (0.0, 0.6), (0.01, 0.25), (0.5, 12.0))
    col = random_color(gen)
    if kind in ("cup", "can"):
        r, h = (uniform(gen, 30.0, 45.0), uniform(gen, 40.0, 60.0)) if kind == "cup" else (33.0, 60.0)
        s = Solid("cylinder", base + up * h, R, np.array([r, h, 0.0]), col, tex)
    elif kind == "mug":
        r, h = uniform(gen, 36.0, 45.0), uniform(gen, 42.0, 55.0)
        s = Solid("mug", base + up * h, R, np.array([r, h, 0.0]), col, tex)
    elif kind == "plate":
        r, h = uniform(gen, 95.0, 135.0), uniform(gen, 5.0, 12.0)
        s = Solid("cylinder", base + up * h, R, np.array([r, h, 0.0]), np.clip(col * 0.3 + 0.7, 0, 1), tex)
    elif kind == "bottle":
        r, h = uniform(gen, 28.0, 45.0), uniform(gen, 80.0, 150.0)
        s = Solid("cylinder", base + up * h, R, np.array([r, h, 0.0]), col, tex)
    elif kind == "box":
        e = np.array([uniform(gen, 25.0, 110.0), uniform(gen, 30.0, 130.0), uniform(gen, 20.0, 80.0)])
        s = Solid("box", base + up * e[1], R, e, col, tex)
    elif kind == "fruit":
        r = uniform(gen, 30.0, 48.0)
        s = Solid("sphere", base + up * r, R, np.array([r, 0, 0]), col, tex)
    else:  # bowl: a flattened ellipsoid resting on its lower half
        a, c = uniform(gen, 70.0, 120.0), uniform(gen, 30.0, 50.0)
        s = Solid("ellipsoid", base + up * 0.6 * c, R, np.array([a, c, a]), col, tex)
    return s


def _light(gen) -> dict[str, np.ndarray]:
    ld = normalize(np.array([uniform(gen, -1, 1), uniform(gen, -1.2, 0.3), -uniform(gen, 0.3, 1.5)]))
    return {
        "dir": ld,
        "ambient": np.array(uniform(gen, 0.25, 0.5)),
        "diffuse": np.array(uniform(gen, 0.45, 0.85)),
        "specular": np.array(uniform(gen, 0.0, 0.15)),
        "rgb": 1.0 + uniform(gen, -0.12, 0.12, 3),
        "falloff": np.array(uniform(gen, 0.0, 0.8)),
        "background": random_color(gen) * 0.3,
        "shadow": np.array(uniform(gen, 0.3, 0.8)),
    }


def sample_background(gen, width: int, height: int, cam: np.ndarray, hand_z: float, cfg: SceneConfig,
                      anchor_uv: list[tuple[float, float, float]]) -> Background:
    """Free view: planes (wall + optional table), clutter, occluders in front of anchors (u, v, z), light."""
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
    _occluders(gen, width, cam, cfg, anchor_uv, clutter)
    return Background(planes, clutter, _light(gen))


def _occluders(gen, width, cam, cfg, anchor_uv, clutter) -> None:
    for (u, v, z) in anchor_uv:
        if uniform(gen, 0, 1) < cfg.p_occluder:
            du, dv = uniform(gen, -60, 60, 2) * width / 640.0
            zo = z - uniform(gen, 60.0, 200.0)
            if zo > 200:
                col = skin_color(gen) if uniform(gen, 0, 1) < cfg.p_skin_clutter else random_color(gen)
                clutter.append(random_solid(gen, backproject_np(u + du, v + dv, zo, cam), (15.0, 45.0), col,
                                            BACKGROUND_INSTANCE))


def _sides(gen, cfg: SceneConfig) -> list[bool]:
    nh = cfg.num_hands
    if nh is None:
        nh = 1 if uniform(gen, 0, 1) < 0.6 else 2
    if nh == 1:
        return [uniform(gen, 0, 1) >= cfg.p_left]
    if nh == 2:
        return [True, False] if uniform(gen, 0, 1) < 0.5 else [False, True]
    return []


def _palm_centre(h: HandState) -> np.ndarray:
    return h.R @ hm.palm_center_local(h.shape) + h.t


def _near_object(gen, cfg, hand: HandState, objects: list) -> None:
    if uniform(gen, 0, 1) < cfg.p_near_object:
        off = normalize(normal(gen, 3)) * uniform(gen, 50.0, 160.0)
        off[2] = -abs(off[2]) if uniform(gen, 0, 1) < 0.6 else off[2]
        c = _palm_centre(hand) + off
        if c[2] > 200:
            objects.append(random_solid(gen, c, (20.0, 60.0), random_color(gen), OBJECT_INSTANCE))


def _sample_free(gen, width, height, cam, cfg, sides):
    hands, objects, anchors = [], [], []
    z0 = uniform(gen, *cfg.hand_z_mm)
    for i, right in enumerate(sides):
        shape = hm.sample_shape(gen, right)
        R = sample_orientation(gen)
        z = z0 if i == 0 else float(np.clip(z0 + uniform(gen, -200, 200), *cfg.hand_z_mm))
        for _try in range(6):
            u, v = sample_pixel(gen, width, height, cfg)
            t = place_hand(shape, R, u, v, z, cam)
            if not hands or np.linalg.norm((R @ hm.palm_center_local(shape) + t) - _palm_centre(hands[0])) > 140:
                break
        hand = HandState(shape, np.zeros(hm.POSE_DIM), R, t)
        if uniform(gen, 0, 1) < cfg.p_grasp:
            objects.append(grasp_hand(gen, hand))
        else:
            hand.pose = hm.sample_pose(gen)
            _near_object(gen, cfg, hand, objects)
        hands.append(hand)
        anchors.append((u, v, z))
    bg = sample_background(gen, width, height, cam, z0, cfg, anchors)
    return hands, objects, bg


def _table_scene(gen, width, height, cam, cfg, up, h_cam, z_hint):
    """Table plane n·x = d (n = up, pointing to the camera's side), a wall behind, items on the table."""
    planes = [(up, -h_cam, random_color(gen) * uniform(gen, 0.5, 1.0),
               texture(gen, (0.05, 0.6), (0.01, 0.3), (0.3, 12.0)))]
    fwd = normalize(np.array([0.0, 0.0, 1.0]) - up[2] * up)  # horizontal, away from the camera
    planes.append((-fwd, -(z_hint + uniform(gen, 400.0, 1800.0)), random_color(gen) * uniform(gen, 0.6, 1.0),
                   texture(gen, (0.0, 0.6), (0.02, 0.3), (0.3, 14.0))))
    items = []
    want = randint(gen, cfg.table_items[0], cfg.table_items[1] + 1)
    for _ in range(200):
        if len(items) >= want:
            break
        rd = pixel_ray(uniform(gen, -0.05, 1.05) * width, uniform(gen, 0.05, 1.0) * height, cam)
        den = float(rd @ up)
        if den >= -1e-3:
            continue
        base = rd * (-h_cam / den)
        if not 450.0 <= base[2] <= 1500.0:
            continue
        if any(np.linalg.norm(base - it.center) < 90.0 for it in items):
            continue
        items.append(table_item(gen, base, up))
    return planes, items


def _lift_above_table(hands, objects_by_hand, up, h_cam, margin=15.0):
    """Move each hand (and what it holds) along ``up`` so that its skeleton stays above the table."""
    for h, held in zip(hands, objects_by_hand):
        J, _ = hm.forward_kinematics(h.shape, h.pose)
        Jc = J @ h.R.T + h.t
        lowest = float((Jc @ up).min()) - 15.0
        if held is not None:
            lowest = min(lowest, float(held.center @ up) - float(np.max(held.size)))
        deficit = (-h_cam + margin) - lowest
        if deficit > 0:
            h.t = h.t + up * deficit
            if held is not None:
                held.center = held.center + up * deficit


def _arm_hand(gen, cam, right, u, v, z, d, n_hint, upper_arm_dir=None):
    shape = hm.sample_shape(gen, right)
    shape.upper_arm_dir = None if upper_arm_dir is None else np.asarray(upper_arm_dir, float)
    R = hm.frame_from(d, n_hint - np.dot(n_hint, d) * d + 1e-6 * np.array([0, 0, -1.0]))
    return HandState(shape, np.zeros(hm.POSE_DIM), R, place_hand(shape, R, u, v, z, cam))


def _sample_ego(gen, width, height, cam, cfg, sides):
    pitch = math.radians(uniform(gen, 30.0, 65.0))
    roll = uniform(gen, -0.15, 0.15)
    up = hm.rot_z(roll) @ np.array([0.0, -math.cos(pitch), -math.sin(pitch)])
    h_cam = uniform(gen, 330.0, 620.0)
    fwd = normalize(np.array([0.0, 0.0, 1.0]) - up[2] * up)
    hands, objects, held = [], [], []
    for right in sides:
        lo, hi = (0.45, 0.88) if right else (0.12, 0.55)
        if len(sides) == 1:
            lo, hi = 0.2, 0.8
        u, v = uniform(gen, lo, hi) * width, uniform(gen, 0.4, 0.92) * height
        z = uniform(gen, *cfg.ego_hand_z_mm)
        side = 1.0 if right else -1.0
        d = normalize(fwd * 0.9 + up * uniform(gen, -0.1, 0.4) + np.array([-side * uniform(gen, 0.0, 0.5), 0, 0])
                      + normal(gen, 3) * 0.2)
        n_hint = normalize(-up * uniform(gen, 0.0, 1.0) + np.array([-side * uniform(gen, 0.0, 1.0), 0, 0])
                           + normal(gen, 3) * 0.5)
        hand = _arm_hand(gen, cam, right, u, v, z, d, n_hint)
        _grasp_or_free(gen, hand, 0.7, objects, held)
        hands.append(hand)
    planes, items = _table_scene(gen, width, height, cam, cfg, up, h_cam, 600.0)
    _lift_above_table(hands, held, up, h_cam)
    return hands, objects, Background(planes, items, _light(gen))



def _grasp_or_free(gen, hand, p_grasp: float, objects: list, held: list) -> bool:
    """With probability ``p_grasp`` the hand grasps a new object (appended to ``objects`` and ``held``;
    True), else it takes a free pose (``held`` gets None; False)."""
    if uniform(gen, 0, 1) < p_grasp:
        objects.append(grasp_hand(gen, hand))
        held.append(objects[-1])
        return True
    hand.pose = hm.sample_pose(gen)
    held.append(None)
    return False

def _sample_table(gen, width, height, cam, cfg, sides):
    pitch = math.radians(uniform(gen, 10.0, 55.0))
    roll = uniform(gen, -0.15, 0.15)
    up = hm.rot_z(roll) @ np.array([0.0, -math.cos(pitch), -math.sin(pitch)])
    hands, objects, held = [], [], []
    z_ref = uniform(gen, *cfg.table_hand_z_mm)
    entries = [randint(gen, 0, 4)]
    if len(sides) == 2:
        entries = [0, 1] if uniform(gen, 0, 1) < 0.6 else [2, 3]
    for i, right in enumerate(sides):
        e = entries[min(i, len(entries) - 1)]  # arm enters from: 0 left, 1 right, 2 bottom, 3 top
        u, v = uniform(gen, 0.2, 0.8) * width, uniform(gen, 0.2, 0.8) * height
        z = float(np.clip(z_ref + uniform(gen, -150, 150), *cfg.table_hand_z_mm))
        e2 = [np.array([-1.0, 0, 0]), np.array([1.0, 0, 0]), np.array([0, 1.0, 0]), np.array([0, -0.6, 0.8])][e]
        d = normalize(-e2 + normal(gen, 3) * 0.3 + np.array([0, 0, uniform(gen, -0.4, 0.3)]))
        n_hint = normalize(normal(gen, 3) - up * uniform(gen, 0.0, 0.8))
        # the upper arm continues towards the entry side, bent at the elbow (hand frame: forearm along −y)
        R_tmp = hm.frame_from(d, n_hint - np.dot(n_hint, d) * d + 1e-6 * np.array([0, 0, -1.0]))
        ua = normalize(R_tmp.T @ normalize(e2 + normal(gen, 3) * 0.3))
        hand = _arm_hand(gen, cam, right, u, v, z, d, n_hint, upper_arm_dir=ua)
        if not _grasp_or_free(gen, hand, 0.55, objects, held):
            _near_object(gen, cfg, hand, objects)
        hands.append(hand)
    # the table lies 40–300 mm below the lowest hand
    lowest = min(float((_palm_centre(h)) @ up) for h in hands) if hands else -z_ref * 0.5
    h_cam = -(lowest - uniform(gen, 40.0, 300.0))
    h_cam = max(h_cam, 150.0)
    planes, items = _table_scene(gen, width, height, cam, cfg, up, h_cam, z_ref)
    _lift_above_table(hands, held, up, h_cam)
    return hands, objects, Background(planes, items, _light(gen))


FRONT_GAP_MM = (5.0, 40.0)  # the front object's back lies this far in front of the hand's nearest skin
FRONT_AIM_MM = 60.0  # its centre is on the ray through the palm centre moved across by up to this much


def front_item(gen, up: np.ndarray) -> Solid:
    """A hand-held household object (bottle, can, cup, mug, box, fruit; real sizes) standing along ``up``."""
    kind = ("bottle", "can", "cup", "mug", "box", "fruit")[choice(gen, (0.25, 0.15, 0.15, 0.15, 0.2, 0.1))]
    R = hm.frame_from(up, normal(gen, 3))  # column 1 = up
    tex = texture(gen, (0.0, 0.6), (0.01, 0.25), (0.5, 12.0))
    col, c = random_color(gen), np.zeros(3)
    if kind == "bottle":
        return Solid("cylinder", c, R, np.array([uniform(gen, 25.0, 45.0), uniform(gen, 60.0, 120.0), 0.0]), col, tex)
    if kind == "can":
        return Solid("cylinder", c, R, np.array([uniform(gen, 26.0, 34.0), uniform(gen, 45.0, 65.0), 0.0]), col, tex)
    if kind == "cup":
        return Solid("cylinder", c, R, np.array([uniform(gen, 30.0, 45.0), uniform(gen, 40.0, 60.0), 0.0]), col, tex)
    if kind == "mug":
        return Solid("mug", c, R, np.array([uniform(gen, 36.0, 45.0), uniform(gen, 42.0, 55.0), 0.0]), col, tex)
    if kind == "box":
        e = np.array([uniform(gen, 25.0, 70.0), uniform(gen, 30.0, 90.0), uniform(gen, 15.0, 50.0)])
        return Solid("box", c, R, e, col, tex)
    return Solid("sphere", c, R, np.array([uniform(gen, 30.0, 48.0), 0.0, 0.0]), col, tex)


def depth_extent(o: Solid) -> float:
    """Half the solid's extent along the camera's z axis (mm; a mug's handle counted as a wider body)."""
    if o.kind == "sphere":
        return float(o.size[0])
    if o.kind == "box":
        return float(np.abs(o.R[2]) @ o.size)
    az = abs(float(o.R[2, 1]))
    r = o.size[0] * (1.8 if o.kind == "mug" else 1.0)
    return float(o.size[1] * az + r * math.sqrt(max(0.0, 1.0 - az * az)))


def cone_axis_spheres(cones: np.ndarray, samples: int) -> tuple[np.ndarray, np.ndarray]:
    """Centres (K×samples×3) and radii (K×samples) of spheres at ``samples`` evenly spaced points along the axes
    of round cones (K×8: a, b, ra, rb), the radius interpolated between the ends."""
    s = np.linspace(0.0, 1.0, samples)
    a, b = cones[:, None, 0:3], cones[:, None, 3:6]
    c = a + s[None, :, None] * (b - a)
    r = cones[:, None, 6] + s[None, :] * (cones[:, None, 7] - cones[:, None, 6])
    return c, r


def _cuts_cones(o: Solid, cones: np.ndarray, samples: int = 9) -> bool:
    """Whether the solid comes nearer than its radius to the axis of any round cone (a, b, ra, rb) at
    ``samples`` points along it."""
    p, r = cone_axis_spheres(cones, samples)
    return bool((GraspObject(o.kind, o.center, o.R, o.size).sdf(p) < r).any())


def _front_objects(gen, cfg: SceneConfig, hands: list[HandState], objects: list[Solid]) -> None:
    """With ``cfg.p_front_object`` per hand, a :func:`front_item` held up in front of it (``OBJECT_INSTANCE``).

    The item's axis is near the image's up (−y), tilted at random. Its centre is on the ray through the palm
    centre, moved across by up to ``FRONT_AIM_MM``, at a depth where its back lies ``FRONT_GAP_MM`` in front of
    the hand's nearest skin point (the joints' spheres; the skin between joints lies within their hull): it hides
    the hand, it does not cut it. It is dropped when it would cut the forearm or any other hand's cones, or lie
    nearer than 150 mm to the camera. Other objects are not checked: 4 of 250 items overlap one (a held object
    or one near the hand; docs/results/front_object_2026-12-04/)."""
    all_cones = [hand_cones(h) for h in hands]
    for h, (_, _, geo, J) in zip(hands, all_cones):
        if uniform(gen, 0, 1) >= cfg.p_front_object:
            continue
        item = front_item(gen, normalize(np.array([0.0, -1.0, 0.0]) + normal(gen, 3) * 0.35))
        near = float((J[:, 2] - geo.joint_radius).min())
        aim = _palm_centre(h) + np.concatenate([uniform(gen, -FRONT_AIM_MM, FRONT_AIM_MM, 2), [0.0]])
        z = near - uniform(gen, *FRONT_GAP_MM) - depth_extent(item)
        if z < 150.0:
            continue
        item.center = aim * (z / aim[2])
        item.instance = OBJECT_INSTANCE
        if any(_cuts_cones(item, c[0]) for c in all_cones):
            continue
        objects.append(item)


def sample_scene(gen: torch.Generator, width: int, height: int, cfg: SceneConfig,
                 sensor: str | SensorModel, cam: np.ndarray | None = None) -> SceneSpec:
    """One random frame: camera, view, 0–2 hands (grasps, nearby objects), background, sensor."""
    cam = sample_camera(gen, width, height, cfg) if cam is None else np.asarray(cam, dtype=np.float64)
    sides = _sides(gen, cfg)
    view = VIEWS[choice(gen, cfg.views)]
    fn = {"free": _sample_free, "ego": _sample_ego, "table": _sample_table}[view]
    hands, objects, bg = fn(gen, width, height, cam, cfg, sides)
    sensor_params = sample_sensor_params(gen, sensor)
    if cfg.p_front_object > 0:  # drawn last: the rest of the scene is the one drawn without
        _front_objects(gen, cfg, hands, objects)
    return SceneSpec(width, height, cam, hands, objects, bg, sensor_params, view)


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
    elif o.kind in ("cylinder", "mug"):
        out["cylinder"].append((np.concatenate([o.center, o.R[:, 1], o.size[:2]]), attr))
        for a, b, r in GraspObject(o.kind, o.center, o.R, o.size).handle_segments():
            out["capsule"].append((np.concatenate([a, b, [r]]), attr))
    elif o.kind == "ellipsoid":
        A = np.diag(1.0 / np.asarray(o.size, float)) @ o.R.T
        out["ellipsoid"].append((np.concatenate([o.center, A.reshape(-1)]), attr))
    else:
        out["box"].append((np.concatenate([o.center, o.R.reshape(-1), o.size]), attr))


def hand_cones(h: HandState) -> tuple[np.ndarray, np.ndarray, hm.HandGeometry, np.ndarray]:
    """Camera-frame round cones (K×8) of a hand, their parts, its geometry and joints (21×3)."""
    J, mcps = hm.forward_kinematics(h.shape, h.pose)
    geo = hm.hand_geometry(h.shape, J, mcps)
    c = geo.cones.copy()
    c[:, 0:3] = c[:, 0:3] @ h.R.T + h.t
    c[:, 3:6] = c[:, 3:6] @ h.R.T + h.t
    return c, geo.part, geo, J @ h.R.T + h.t


def scene_primitives(scene: SceneSpec, gen_tex: torch.Generator | None = None):
    """Primitive rows per type ({type: [(geom, attr), ...]}) and the hands' labels."""
    out: dict[str, list] = {"cone": [], "capsule": [], "cylinder": [], "ellipsoid": [], "box": [], "plane": []}
    labels = []
    for hi, h in enumerate(scene.hands):
        cones, parts, geo, Jc = hand_cones(h)
        skin = h.shape.skin
        # deterministic skin texture from the hand's own colour (no RNG needed)
        f = 0.35 / max(h.shape.scale, 0.5)
        skin_tex = np.array([0.06, 1.0, f, 0.3 * f, 0.2 * f, -0.2 * f, f, 0.4 * f, 0.0, 1.0])
        for k in range(len(cones)):
            if parts[k] == hm.PART_SLEEVE:
                col, tex = h.shape.sleeve, np.array([0.12, 2.0, 0.3, 0, 0, 0, 0.05, 0.3, 0, 0])
            else:
                col, tex = skin * (1.0 + 0.02 * math.sin(3.1 * k)), skin_tex
            out["cone"].append((cones[k], np.concatenate([col, [hi], tex])))
        labels.append(HandLabels(Jc, geo.joint_radius, h.shape.is_right))
    for o in scene.objects:
        _solid_prims(o, out)
    for o in scene.background.clutter:
        _solid_prims(o, out)
    for n, d, col, tex in scene.background.planes:
        out["plane"].append((np.concatenate([n, [d]]), np.concatenate([col, [BACKGROUND_INSTANCE], tex])))
    return out, labels
