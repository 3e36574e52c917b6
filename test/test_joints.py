"""Joint orders: the public and network constants, every dataset's order, and the conversions between them.

ROS-free. The expected tables are written out here from their sources (reference §3, MediaPipe's
HandLandmark enum, F-PHAB's README) so that a wrong table in kpfusion_ros.joints cannot pass.
"""

from __future__ import annotations

import itertools
import re

import numpy as np
import pytest
import torch

from conftest import REPO
from kpfusion_ros import joints as J

#: MediaPipe HandLandmark (0..20); OpenPose, FreiHAND and DexYCB's labels use the same order.
MEDIAPIPE = ("WRIST", "THUMB_CMC", "THUMB_MCP", "THUMB_IP", "THUMB_TIP",
             "INDEX_FINGER_MCP", "INDEX_FINGER_PIP", "INDEX_FINGER_DIP", "INDEX_FINGER_TIP",
             "MIDDLE_FINGER_MCP", "MIDDLE_FINGER_PIP", "MIDDLE_FINGER_DIP", "MIDDLE_FINGER_TIP",
             "RING_FINGER_MCP", "RING_FINGER_PIP", "RING_FINGER_DIP", "RING_FINGER_TIP",
             "PINKY_MCP", "PINKY_PIP", "PINKY_DIP", "PINKY_TIP")
#: Reference §3 "Joint order" (the authors' loader): native → network tables, and back for HO-3D.
DEXYCB2MANO = (0, 5, 6, 7, 9, 10, 11, 17, 18, 19, 13, 14, 15, 1, 2, 3, 8, 12, 20, 16, 4)
HO3D2MANO = (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 17, 18, 20, 19, 16)
MANO2HO3D = (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 20, 16, 17, 19, 18)
#: F-PHAB's joint list; it names every finger's joints MCP, PIP, DIP, TIP, the thumb's too, so its
#: TMCP is the thumb's base (CMC), TPIP the thumb's MCP and TDIP the thumb's IP.
FPHAB = ("Wrist", "TMCP", "IMCP", "MMCP", "RMCP", "PMCP", "TPIP", "TDIP", "TTIP", "IPIP", "IDIP", "ITIP",
         "MPIP", "MDIP", "MTIP", "RPIP", "RDIP", "RTIP", "PPIP", "PDIP", "PTIP")
_F = {"T": "thumb", "I": "index", "M": "middle", "R": "ring", "P": "pinky"}
_THUMB = {"MCP": "cmc", "PIP": "mcp", "DIP": "ip", "TIP": "tip"}


def fphab_name(name: str) -> str:
    if name == "Wrist":
        return "wrist"
    finger, joint = _F[name[0]], name[1:]
    return f"{finger}_{_THUMB[joint] if finger == 'thumb' else joint.lower()}"


def mediapipe_name(name: str) -> str:
    return name.lower().replace("_finger", "")


#: Today's network order (MANO's 16 joints, then the tips index, middle, pinky, ring, thumb).
NETWORK = ("wrist", "index_mcp", "index_pip", "index_dip", "middle_mcp", "middle_pip", "middle_dip",
           "pinky_mcp", "pinky_pip", "pinky_dip", "ring_mcp", "ring_pip", "ring_dip", "thumb_cmc", "thumb_mcp",
           "thumb_ip", "index_tip", "middle_tip", "pinky_tip", "ring_tip", "thumb_tip")
#: Bones of the hand by name: the wrist to each finger's base, then along each finger.
ANATOMY = {("wrist", "thumb_cmc"), ("thumb_cmc", "thumb_mcp"), ("thumb_mcp", "thumb_ip"), ("thumb_ip", "thumb_tip")}
ANATOMY |= {pair for f in ("index", "middle", "ring", "pinky")
            for pair in zip(("wrist", f"{f}_mcp", f"{f}_pip", f"{f}_dip"), (f"{f}_mcp", f"{f}_pip", f"{f}_dip", f"{f}_tip"))}


def test_public_order_is_mediapipes():
    assert J.JOINT_NAMES == tuple(mediapipe_name(n) for n in MEDIAPIPE)
    assert J.JOINT_INDEX == {n: i for i, n in enumerate(J.JOINT_NAMES)}
    assert J.NUM_JOINTS == len(J.JOINT_NAMES) == 21
    np.testing.assert_array_equal(J.order_index("mediapipe", "public"), np.arange(21))


def test_network_constants_are_todays_order():
    assert J.NETWORK_JOINT_NAMES == NETWORK
    assert J.NETWORK_PARENTS == (-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 0, 10, 11, 0, 13, 14, 3, 6, 9, 12, 15)
    assert J.NETWORK_FINGER_CHAINS == {"thumb": (13, 14, 15, 20), "index": (1, 2, 3, 16), "middle": (4, 5, 6, 17),
                                       "ring": (10, 11, 12, 19), "pinky": (7, 8, 9, 18)}
    assert J.NETWORK_BONES == tuple((p, c) for c, p in enumerate(J.NETWORK_PARENTS) if p >= 0)
    np.testing.assert_array_equal(J.order_index("mano", "network"), np.arange(21))


@pytest.mark.parametrize("order", ["public", "network"])
def test_skeletons_are_the_hands_bones(order):
    names = J.JOINT_NAMES if order == "public" else J.NETWORK_JOINT_NAMES
    pre = "" if order == "public" else "NETWORK_"
    bones, parents = getattr(J, pre + "BONES"), getattr(J, pre + "PARENTS")
    chains, finger = getattr(J, pre + "FINGER_CHAINS"), getattr(J, pre + "JOINT_FINGER")
    assert len(bones) == 20 and {(names[p], names[c]) for p, c in bones} == ANATOMY
    assert parents[names.index("wrist")] == -1
    for f, chain in chains.items():
        assert [names[j] for j in chain] == [f"{f}_{k}" for k in
                                             (("cmc", "mcp", "ip", "tip") if f == "thumb" else ("mcp", "pip", "dip", "tip"))]
        assert all(finger[j] == f for j in chain)
    assert finger[names.index("wrist")] == "palm"


def test_public_skeleton_literal():
    assert J.PARENTS == (-1, 0, 1, 2, 3, 0, 5, 6, 7, 0, 9, 10, 11, 0, 13, 14, 15, 0, 17, 18, 19)
    assert J.FINGER_CHAINS == {"thumb": (1, 2, 3, 4), "index": (5, 6, 7, 8), "middle": (9, 10, 11, 12),
                               "ring": (13, 14, 15, 16), "pinky": (17, 18, 19, 20)}


def test_dataset_tables_reproduce_the_reference():
    np.testing.assert_array_equal(J.order_index("dexycb", "network"), DEXYCB2MANO)
    np.testing.assert_array_equal(J.order_index("ho3d", "network"), HO3D2MANO)
    np.testing.assert_array_equal(J.order_index("network", "ho3d"), MANO2HO3D)
    assert J.order_index("dexycb", "network").dtype == np.int64


def test_fphab_order():
    assert J.ORDERS["fphab"] == tuple(fphab_name(n) for n in FPHAB)
    # an F-PHAB skeleton labelled by its own joint names lands on the right public joints
    labels = np.array(FPHAB)
    pub = J.reorder(labels[:, None], "fphab", "public")[:, 0]
    assert [fphab_name(n) for n in pub] == list(J.JOINT_NAMES)
    assert list(pub[:5]) == ["Wrist", "TMCP", "TPIP", "TDIP", "TTIP"]


@pytest.mark.parametrize("src,dst", list(itertools.permutations(sorted(J.ORDERS), 2)))
def test_every_mapping_round_trips_and_composes(src, dst):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 21, 3))
    y = J.reorder(x, src, dst)
    np.testing.assert_array_equal(J.reorder(y, dst, src), x)
    # joint by name: the same point in both orders
    for i, name in enumerate(J.ORDERS[dst]):
        np.testing.assert_array_equal(y[:, i], x[:, J.ORDERS[src].index(name)])
    for via in ("public", "network", "fphab"):
        np.testing.assert_array_equal(J.order_index(src, dst),
                                      J.order_index(src, via)[J.order_index(via, dst)])


def test_every_order_is_a_permutation_of_the_21_joints():
    for name, order in J.ORDERS.items():
        assert sorted(order) == sorted(J.JOINT_NAMES), name


def test_reorder_per_joint_scalars_tensors_and_errors():
    conf = np.arange(21.0)
    np.testing.assert_array_equal(J.reorder(conf, "network", "public", axis=-1), J.order_index("network", "public"))
    t = torch.arange(2 * 21 * 3, dtype=torch.float32).reshape(2, 21, 3)
    out = J.reorder(t, "network", "public")
    assert isinstance(out, torch.Tensor)
    assert torch.equal(out[:, J.JOINT_INDEX["thumb_tip"]], t[:, J.NETWORK_JOINT_INDEX["thumb_tip"]])
    with pytest.raises(ValueError, match="unknown joint order 'openpose25'"):
        J.order_index("openpose25", "public")
    with pytest.raises(ValueError, match="not 21 joints"):
        J.reorder(np.zeros((20, 3)), "network", "public")


def test_message_constants_are_the_public_order():
    """msg/HandPose.msg's index constants, read from the file (no ROS needed), equal JOINT_INDEX, in order."""
    text = (REPO / "msg" / "HandPose.msg").read_text()
    consts = re.findall(r"^uint8 ([A-Z_]+)=(\d+)$", text, flags=re.M)
    joints = [(n, int(v)) for n, v in consts if not n.startswith("HANDEDNESS") and n != "NUM_JOINTS"]
    assert joints == [(n.upper(), i) for n, i in J.JOINT_INDEX.items()]
    assert ("NUM_JOINTS", "21") in consts


def test_bone_lengths_and_rebuilding_with_new_lengths():
    rng = np.random.default_rng(3)
    j = rng.normal(0, 40, (5, 21, 3))
    L = J.bone_lengths(j)
    assert L.shape == (5, 20)
    p, c = J.NETWORK_BONES[7]
    np.testing.assert_allclose(L[:, 7], np.linalg.norm(j[:, c] - j[:, p], axis=-1))
    # public-order joints with the public bones give the same lengths, bone for bone by name
    jp = J.reorder(j, "network", "public")
    lp = J.bone_lengths(jp, J.BONES)
    by_name = {(J.JOINT_NAMES[a], J.JOINT_NAMES[b]): lp[:, k] for k, (a, b) in enumerate(J.BONES)}
    for k, (a, b) in enumerate(J.NETWORK_BONES):
        np.testing.assert_allclose(by_name[(J.NETWORK_JOINT_NAMES[a], J.NETWORK_JOINT_NAMES[b])], L[:, k])
    np.testing.assert_allclose(J.with_bone_lengths(j, L), j, atol=1e-9)  # own lengths: unchanged
    want = rng.uniform(10, 50, 20)
    r = J.with_bone_lengths(j, want)  # one set of lengths broadcast over the 5 hands
    np.testing.assert_allclose(J.bone_lengths(r), np.broadcast_to(want, (5, 20)), atol=1e-9)
    np.testing.assert_array_equal(r[:, J.NETWORK_JOINT_INDEX["wrist"]], j[:, J.NETWORK_JOINT_INDEX["wrist"]])
    for p, c in J.NETWORK_BONES:  # every bone keeps its direction
        d0, d1 = j[:, c] - j[:, p], r[:, c] - r[:, p]
        cos = (d0 * d1).sum(-1) / np.linalg.norm(d0, axis=-1) / np.linalg.norm(d1, axis=-1)
        np.testing.assert_allclose(cos, 1.0, atol=1e-9)
    with pytest.raises(ValueError, match="comes before"):
        J.with_bone_lengths(j, L, tuple(reversed(J.NETWORK_BONES)))
