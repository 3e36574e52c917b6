"""Synthetic F-PHAB fixtures in the official layout (no real frames: everything is drawn here).

``root/Video_files/<seq>/{color/color_NNNN.jpeg, depth/depth_NNNN.png}`` and
``root/Hand_pose_annotation_v1/<seq>/skeleton.txt`` (frame number + 21×3 mm per line, F-PHAB joint
order, depth-camera frame). The hand is a set of spheres (joints and points along the bones) in
front of a slanted table plane, drawn into the depth image by exact ray casting with the depth
intrinsics, so a joint's depth pixel and depth are known in closed form.
"""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np

from kpfusion_ros import joints as J
from kpfusion_ros.data.fphab import FPHAB_CALIBRATION, FPHABCalibration

#: network joint names (the order the readers return)
NET_NAMES = tuple(getattr(J, "NETWORK_JOINT_NAMES", J.JOINT_NAMES))

#: F-PHAB joint name → network joint name, written from the anatomy (README order; the thumb's
#: TMCP/TPIP/TDIP/TTIP are its CMC, MCP, IP and tip), independently of the reader's table.
FPHAB_NAME_TO_NETWORK_NAME = {
    "Wrist": "wrist",
    "TMCP": "thumb_cmc", "TPIP": "thumb_mcp", "TDIP": "thumb_ip", "TTIP": "thumb_tip",
    "IMCP": "index_mcp", "IPIP": "index_pip", "IDIP": "index_dip", "ITIP": "index_tip",
    "MMCP": "middle_mcp", "MPIP": "middle_pip", "MDIP": "middle_dip", "MTIP": "middle_tip",
    "RMCP": "ring_mcp", "RPIP": "ring_pip", "RDIP": "ring_dip", "RTIP": "ring_tip",
    "PMCP": "pinky_mcp", "PPIP": "pinky_pip", "PDIP": "pinky_dip", "PTIP": "pinky_tip",
}
FPHAB_README_ORDER = ("Wrist", "TMCP", "IMCP", "MMCP", "RMCP", "PMCP", "TPIP", "TDIP", "TTIP", "IPIP", "IDIP",
                      "ITIP", "MPIP", "MDIP", "MTIP", "RPIP", "RDIP", "RTIP", "PPIP", "PDIP", "PTIP")


def rotation(ax_deg: float, ay_deg: float, az_deg: float) -> np.ndarray:
    a, b, c = (math.radians(v) for v in (ax_deg, ay_deg, az_deg))
    Rx = np.array([[1, 0, 0], [0, math.cos(a), -math.sin(a)], [0, math.sin(a), math.cos(a)]])
    Ry = np.array([[math.cos(b), 0, math.sin(b)], [0, 1, 0], [-math.sin(b), 0, math.cos(b)]])
    Rz = np.array([[math.cos(c), -math.sin(c), 0], [math.sin(c), math.cos(c), 0], [0, 0, 1]])
    return Rz @ Ry @ Rx


#: A tiny rig (depth 64×48, colour 192×108) with a real rotation and an F-PHAB-like baseline.
TINY = FPHABCalibration(depth_intrinsics=(50.0, 50.0, 31.5, 23.5), depth_size=(64, 48),
                        color_intrinsics=(150.0, 151.0, 95.5, 53.5), color_size=(192, 108),
                        rotation=tuple(map(tuple, rotation(1.0, 2.0, 0.5))), translation_mm=(25.0, 1.5, 4.0))


def hand_network(centre_mm, scale: float = 1.0) -> np.ndarray:
    """A plausible open right hand (21×3 mm, network order) around ``centre_mm``, fingers towards −y."""
    pos = {"wrist": (0, 45, 0)}
    for name, x, lengths in (("index", -24, (75, 40, 25, 20)), ("middle", -6, (78, 45, 28, 22)),
                             ("ring", 12, (74, 42, 26, 21)), ("pinky", 28, (68, 32, 20, 18))):
        y = 45.0
        for seg, L in zip(("mcp", "pip", "dip", "tip"), lengths):
            y -= L
            pos[f"{name}_{seg}"] = (x * (1 + 0.1 * (seg != "mcp")), y, 4.0 if seg == "mcp" else -3.0)
    for seg, p in (("cmc", (-18, 30, 4)), ("mcp", (-42, 0, 0)), ("ip", (-55, -25, -5)), ("tip", (-62, -45, -8))):
        pos[f"thumb_{seg}"] = p
    j = np.array([pos[n] for n in NET_NAMES], dtype=np.float64) * scale
    return j - j.mean(0) + np.asarray(centre_mm, dtype=np.float64)


def to_fphab_order(joints_network: np.ndarray) -> np.ndarray:
    """Network order → the F-PHAB file order, by joint name (the fixture's own table)."""
    return np.stack([joints_network[NET_NAMES.index(FPHAB_NAME_TO_NETWORK_NAME[n])] for n in FPHAB_README_ORDER])


def skeleton_line(t: int, joints_fphab: np.ndarray) -> str:
    return f"{t:04d} " + " ".join(f"{v:.4f}" for v in np.asarray(joints_fphab).reshape(-1))


def sphere_points(joints_network: np.ndarray, per_bone: int = 3) -> np.ndarray:
    """Joints plus ``per_bone`` points along every bone (a blob that holds together)."""
    pts = [joints_network]
    bones = getattr(J, "NETWORK_BONES", J.BONES)
    t = np.linspace(0, 1, per_bone + 2)[1:-1]
    for p, c in bones:
        pts.append(joints_network[p] + t[:, None] * (joints_network[c] - joints_network[p]))
    return np.concatenate(pts)


def cast_depth(calib: FPHABCalibration, spheres: np.ndarray, radius_mm: float, plane=(700.0, 0.6),
               holes: tuple = ()) -> np.ndarray:
    """uint16 depth (mm) of ``spheres`` (N×3, depth frame) in front of a plane z = a + b·(v − cy) px.

    ``holes``: (u0, v0, u1, v1) blocks set to 0 (invalid). Exact ray-sphere intersections.
    """
    fx, fy, cx, cy = calib.depth_intrinsics
    W, H = calib.depth_size
    v, u = np.mgrid[0:H, 0:W].astype(np.float64)
    z = plane[0] + plane[1] * (v - cy) if plane is not None else np.full((H, W), np.inf)
    if len(spheres):
        d = np.stack([(u - cx) / fx, (v - cy) / fy, np.ones_like(u)], -1).reshape(-1, 1, 3)  # P×1×3
        C = np.asarray(spheres, dtype=np.float64)[None]  # 1×N×3
        dd = (d * d).sum(-1)
        dc = (d * C).sum(-1)
        disc = dc * dc - dd * ((C * C).sum(-1) - radius_mm ** 2)
        with np.errstate(invalid="ignore"):
            zs = np.where(disc >= 0, (dc - np.sqrt(np.maximum(disc, 0))) / dd, np.inf)
        z = np.minimum(z, zs.min(1).reshape(H, W))
    z = np.where(np.isfinite(z), z, 0.0)
    out = np.rint(z).astype(np.uint16)
    for (u0, v0, u1, v1) in holes:
        out[v0:v1, u0:u1] = 0
    return out


def draw_color(calib: FPHABCalibration, joints_depth_frame: np.ndarray) -> np.ndarray:
    """A BGR colour image: a grey-blue table, the joints as skin discs (projected with the colour camera)."""
    W, H = calib.color_size
    img = np.empty((H, W, 3), np.uint8)
    img[:] = (150, 140, 120)
    img[: H // 3] = (200, 200, 200)
    jc = joints_depth_frame @ calib.R.T + calib.t
    fx, fy, cx, cy = calib.color_intrinsics
    r = max(2, int(round(10.0 * fx / max(float(jc[:, 2].mean()), 1.0))))
    for x, y, z in jc:
        if z > 0:
            cv2.circle(img, (int(round(x * fx / z + cx)), int(round(y * fy / z + cy))), r, (120, 150, 210), -1)
    return img


def write_sequence(root: Path, seq: str, frames: list, calib: FPHABCalibration = FPHAB_CALIBRATION,
                   radius_mm: float = 10.0, extra_lines: tuple = (), write_images: bool = True) -> None:
    """Write one sequence: ``frames`` = [(t, joints network order, depth frame mm)], images drawn from them."""
    vdir = Path(root) / "Video_files" / seq
    adir = Path(root) / "Hand_pose_annotation_v1" / seq
    (vdir / "color").mkdir(parents=True, exist_ok=True)
    (vdir / "depth").mkdir(parents=True, exist_ok=True)
    adir.mkdir(parents=True, exist_ok=True)
    lines = []
    for t, jn in frames:
        lines.append(skeleton_line(t, to_fphab_order(jn)))
        if write_images:
            depth = cast_depth(calib, sphere_points(jn), radius_mm)
            assert cv2.imwrite(str(vdir / "depth" / f"depth_{t:04d}.png"), depth)
            assert cv2.imwrite(str(vdir / "color" / f"color_{t:04d}.jpeg"), draw_color(calib, jn),
                               [cv2.IMWRITE_JPEG_QUALITY, 95])
    lines.extend(extra_lines)
    (adir / "skeleton.txt").write_text("\n".join(lines) + "\n")


def moving_hand(n: int, start=(0.0, 20.0, 420.0), step=(4.0, 0.0, 0.0), first: int = 0) -> list:
    """``n`` frames of the fixture hand translating by ``step`` mm per frame (label jitter = |step|)."""
    s = np.asarray(start, dtype=np.float64)
    return [(first + k, hand_network(s + k * np.asarray(step))) for k in range(n)]
