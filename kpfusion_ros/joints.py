"""The 21 hand joints: their fixed order, names, skeleton and finger colours.

The order is the one the authors' network predicts (reference §3 "Joint order"):
MANO's 16 joints followed by the five finger tips in the order index, middle,
pinky, ring, thumb. ``msg/HandPose.msg`` documents the same order and exposes
the indices as constants; markers, TF and the data readers all take it from here.
"""

from __future__ import annotations

import numpy as np

NUM_JOINTS = 21

JOINT_NAMES: tuple[str, ...] = (
    "wrist",
    "index_mcp", "index_pip", "index_dip",
    "middle_mcp", "middle_pip", "middle_dip",
    "pinky_mcp", "pinky_pip", "pinky_dip",
    "ring_mcp", "ring_pip", "ring_dip",
    "thumb_cmc", "thumb_mcp", "thumb_ip",
    "index_tip", "middle_tip", "pinky_tip", "ring_tip", "thumb_tip",
)

JOINT_INDEX: dict[str, int] = {name: i for i, name in enumerate(JOINT_NAMES)}

#: Parent of every joint along the kinematic chain (-1 for the wrist).
PARENTS: tuple[int, ...] = (
    -1,
    0, 1, 2,
    0, 4, 5,
    0, 7, 8,
    0, 10, 11,
    0, 13, 14,
    3, 6, 9, 12, 15,
)

#: (parent, child) pairs, one per bone (20 bones).
BONES: tuple[tuple[int, int], ...] = tuple((p, c) for c, p in enumerate(PARENTS) if p >= 0)

FINGERS: tuple[str, ...] = ("thumb", "index", "middle", "ring", "pinky")

#: Finger of each joint (the wrist belongs to none: "palm").
JOINT_FINGER: tuple[str, ...] = tuple(
    "palm" if name == "wrist" else name.split("_")[0] for name in JOINT_NAMES
)

#: Joints of each finger from its base to its tip.
FINGER_CHAINS: dict[str, tuple[int, ...]] = {
    "thumb": (13, 14, 15, 20),
    "index": (1, 2, 3, 16),
    "middle": (4, 5, 6, 17),
    "ring": (10, 11, 12, 19),
    "pinky": (7, 8, 9, 18),
}

#: RGB colours in [0, 1] per finger, for markers and overlays.
FINGER_COLORS: dict[str, tuple[float, float, float]] = {
    "palm": (0.9, 0.9, 0.9),
    "thumb": (0.95, 0.26, 0.21),
    "index": (1.0, 0.76, 0.03),
    "middle": (0.30, 0.69, 0.31),
    "ring": (0.13, 0.59, 0.95),
    "pinky": (0.61, 0.15, 0.69),
}

#: HO-3D annotation order -> ours (reference §3: HO3D2MANO).
HO3D_TO_OURS: tuple[int, ...] = (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 17, 18, 20, 19, 16)
#: Ours -> HO-3D order (reference §3: MANO2HO3D).
OURS_TO_HO3D: tuple[int, ...] = (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 20, 16, 17, 19, 18)
#: DexYCB native order -> ours (reference §3: DexYCB2MANO).
DEXYCB_TO_OURS: tuple[int, ...] = (0, 5, 6, 7, 9, 10, 11, 17, 18, 19, 13, 14, 15, 1, 2, 3, 8, 12, 20, 16, 4)


def bone_finger(child: int) -> str:
    """Finger a bone belongs to, named by its child joint."""
    return JOINT_FINGER[child]


def parents_array() -> np.ndarray:
    return np.asarray(PARENTS, dtype=np.int64)
