"""The 21 hand joints: their two orders, names, skeletons, finger colours and dataset orders.

Two orders are used, and each has its own constants:

* **Public order** — what the package publishes: ``msg/HandPose.msg`` (its index constants),
  :class:`~kpfusion_ros.hand.HandEstimate`, RViz markers, TF frames, the debug image. Wrist; thumb
  CMC, MCP, IP, tip; index MCP, PIP, DIP, tip; middle; ring; pinky — the order of MediaPipe Hands,
  OpenPose, FreiHAND, DexYCB's labels and dex-retargeting's input. Constants :data:`JOINT_NAMES`,
  :data:`JOINT_INDEX`, :data:`PARENTS`, :data:`BONES`, :data:`FINGER_CHAINS`, :data:`JOINT_FINGER`.
* **Network order** — what the model predicts and is trained on, and what the data readers, the
  evaluation and the renderer use: MANO's 16 joints followed by the five tips in the order index,
  middle, pinky, ring, thumb (reference §3 "Joint order"). Constants ``NETWORK_*``.

The pipeline converts network → public once, where it builds each ``HandEstimate``. Datasets'
native orders convert with :func:`order_index` / :func:`reorder` (names in :data:`ORDERS`).
"""

from __future__ import annotations

import numpy as np

NUM_JOINTS = 21

FINGERS: tuple[str, ...] = ("thumb", "index", "middle", "ring", "pinky")
#: Joints of each finger from its base to its tip, by name suffix (the thumb's base is its CMC).
_FINGER_JOINTS: dict[str, tuple[str, ...]] = {
    f: ("cmc", "mcp", "ip", "tip") if f == "thumb" else ("mcp", "pip", "dip", "tip") for f in FINGERS
}


def _names(fingers, joints_of=lambda f: _FINGER_JOINTS[f]) -> tuple[str, ...]:
    return tuple(f"{f}_{j}" for f in fingers for j in joints_of(f))


#: Public order: the wrist, then each finger from base to tip, thumb to pinky.
JOINT_NAMES: tuple[str, ...] = ("wrist",) + _names(FINGERS)
_MANO_FINGERS = ("index", "middle", "pinky", "ring", "thumb")
#: Network order: MANO's 16 joints (wrist, then index, middle, pinky, ring, thumb without tips), then the tips.
NETWORK_JOINT_NAMES: tuple[str, ...] = (("wrist",) + _names(_MANO_FINGERS, lambda f: _FINGER_JOINTS[f][:3])
                                        + tuple(f"{f}_tip" for f in _MANO_FINGERS))
_HO3D_TIPS = ("thumb", "index", "middle", "ring", "pinky")
#: F-PHAB: the wrist, the five finger bases, then per finger the remaining three joints. F-PHAB names the
#: joints of every finger MCP, PIP, DIP, TIP, so its thumb "MCP" is the thumb's base (CMC), its "PIP" the
#: thumb's MCP and its "DIP" the thumb's IP.
_FPHAB = (("wrist",) + tuple(f"{f}_{_FINGER_JOINTS[f][0]}" for f in FINGERS)
          + tuple(f"{f}_{j}" for f in FINGERS for j in _FINGER_JOINTS[f][1:]))

#: Joint orders by name; :func:`order_index` converts between any two.
ORDERS: dict[str, tuple[str, ...]] = {
    "public": JOINT_NAMES,
    "mediapipe": JOINT_NAMES,  # also OpenPose's and FreiHAND's hand order
    "dexycb": JOINT_NAMES,  # DexYCB's joint labels (reference §3: DexYCB2MANO reaches the network order)
    "network": NETWORK_JOINT_NAMES,
    "mano": NETWORK_JOINT_NAMES,  # MANO's 16 joints + tips, as the authors' code orders them
    "ho3d": NETWORK_JOINT_NAMES[:16] + tuple(f"{f}_tip" for f in _HO3D_TIPS),  # MANO + tips thumb..pinky
    "fphab": _FPHAB,
}


def order_index(src: str, dst: str) -> np.ndarray:
    """Indices ``idx`` (21, int64) such that ``joints_dst = joints_src[..., idx, :]``."""
    try:
        a, b = ORDERS[src], ORDERS[dst]
    except KeyError as exc:
        raise ValueError(f"unknown joint order {exc.args[0]!r} (known: {', '.join(ORDERS)})") from None
    pos = {name: i for i, name in enumerate(a)}
    return np.array([pos[name] for name in b], dtype=np.int64)


def reorder(joints, src: str, dst: str, axis: int = -2):
    """``joints`` (numpy array or torch tensor) with its joint axis (default -2: ``(..., 21, 3)``;
    -1 for per-joint scalars such as confidences) converted from order ``src`` to ``dst``."""
    a = axis % joints.ndim
    if joints.shape[a] != NUM_JOINTS:
        raise ValueError(f"axis {axis} has {joints.shape[a]} entries, not {NUM_JOINTS} joints")
    return joints[(slice(None),) * a + (order_index(src, dst),)]


def _skeleton(names: tuple[str, ...]):
    """(index, parents, bones, finger chains, finger of each joint) of one order."""
    index = {n: i for i, n in enumerate(names)}
    chains = {f: tuple(index[f"{f}_{j}"] for j in _FINGER_JOINTS[f]) for f in FINGERS}
    parents = [-1] * len(names)
    for chain in chains.values():
        for prev, joint in zip((index["wrist"],) + chain[:-1], chain):
            parents[joint] = prev
    bones = tuple((p, c) for c, p in enumerate(parents) if p >= 0)
    finger = tuple("palm" if n == "wrist" else n.split("_")[0] for n in names)
    return index, tuple(parents), bones, chains, finger


#: JOINT_INDEX: name → index. PARENTS: parent of every joint (-1 for the wrist). BONES: (parent, child),
#: 20 bones. FINGER_CHAINS: each finger's joints from base to tip. JOINT_FINGER: finger of each joint
#: ("palm" for the wrist). All in public order.
JOINT_INDEX, PARENTS, BONES, FINGER_CHAINS, JOINT_FINGER = _skeleton(JOINT_NAMES)
#: The same in network order.
NETWORK_JOINT_INDEX, NETWORK_PARENTS, NETWORK_BONES, NETWORK_FINGER_CHAINS, NETWORK_JOINT_FINGER = \
    _skeleton(NETWORK_JOINT_NAMES)

#: RGB colours in [0, 1] per finger, for markers and overlays.
FINGER_COLORS: dict[str, tuple[float, float, float]] = {
    "palm": (0.9, 0.9, 0.9),
    "thumb": (0.95, 0.26, 0.21),
    "index": (1.0, 0.76, 0.03),
    "middle": (0.30, 0.69, 0.31),
    "ring": (0.13, 0.59, 0.95),
    "pinky": (0.61, 0.15, 0.69),
}


def bone_lengths(joints, bones: tuple[tuple[int, int], ...] = NETWORK_BONES) -> np.ndarray:
    """Length of every bone: ``joints`` (..., 21, 3) → (..., 20), in ``bones``' order (default the network
    order's :data:`NETWORK_BONES`; pass :data:`BONES` for public-order joints). Unlike a wrist-to-tip
    distance it does not change when the fingers flex."""
    j = np.asarray(joints, dtype=np.float64)
    p, c = (np.array(x, dtype=np.int64) for x in zip(*bones))
    return np.linalg.norm(j[..., c, :] - j[..., p, :], axis=-1)


def with_bone_lengths(joints, lengths, bones: tuple[tuple[int, int], ...] = NETWORK_BONES) -> np.ndarray:
    """``joints`` (..., 21, 3) rebuilt from the wrist outwards with every bone's direction kept and its length
    set to ``lengths`` (..., 20, in ``bones``' order, broadcast against the leading axes). Every parent must
    come before its child in ``bones`` (true of both orders' constants)."""
    j = np.asarray(joints, dtype=np.float64)
    ln = np.broadcast_to(np.asarray(lengths, dtype=np.float64), j.shape[:-2] + (len(bones),))
    out = j.copy()
    done = {b[0] for b in bones} - {b[1] for b in bones}  # the root (the wrist)
    for k, (p, c) in enumerate(bones):
        if p not in done:
            raise ValueError(f"bone {k} ({p} → {c}) comes before a bone ending at its parent")
        d = j[..., c, :] - j[..., p, :]
        n = np.linalg.norm(d, axis=-1, keepdims=True)
        out[..., c, :] = out[..., p, :] + np.divide(d, n, out=np.zeros_like(d), where=n > 0) * ln[..., k, None]
        done.add(c)
    return out
