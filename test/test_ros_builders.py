"""Markers, TF frames and HandPoseArray building from HandEstimate, without DDS."""

from __future__ import annotations

import math

import numpy as np
import pytest

from conftest import ros_available

pytestmark = pytest.mark.skipif(not ros_available(), reason="needs the colcon install: run `make test`")


def _hand(track_id=3, seed=0, nan_joint=None):
    from kpfusion_ros.hand import HandEstimate

    rng = np.random.default_rng(seed)
    joints = np.array([0.0, 0.0, 0.5]) + rng.normal(scale=0.03, size=(21, 3))
    if nan_joint is not None:
        joints[nan_joint] = np.nan
    pix = rng.uniform(0, 640, size=(21, 2))
    return HandEstimate(track_id=track_id, joints_m=joints, pixels=pix, joint_confidence=np.linspace(0, 1, 21),
                        confidence=0.8, center_m=joints[~np.isnan(joints[:, 0])].mean(0), roi=(10, 20, 100, 90))


def _header(frame="cam_color_optical_frame"):
    from std_msgs.msg import Header
    from builtin_interfaces.msg import Time

    return Header(stamp=Time(sec=12, nanosec=345), frame_id=frame)


def test_bone_quaternions_are_unit_and_rotate_x_onto_the_bone():
    from kpfusion_ros.joints import PARENTS
    from kpfusion_ros.ros.tf_frames import bone_quaternions

    h = _hand()
    q = bone_quaternions(h.joints_m)
    assert np.allclose(np.linalg.norm(q, axis=1), 1.0)
    assert np.allclose(q[0], [0, 0, 0, 1])  # wrist: identity
    for j in range(1, 21):
        x, y, z, w = q[j]
        # first column of the rotation matrix = R·e_x
        rx = np.array([1 - 2 * (y * y + z * z), 2 * (x * y + z * w), 2 * (x * z - y * w)])
        bone = h.joints_m[j] - h.joints_m[PARENTS[j]]
        assert np.allclose(rx, bone / np.linalg.norm(bone), atol=1e-9)


def test_bone_quaternion_of_a_bone_along_minus_x_and_degenerate_bones():
    from kpfusion_ros.ros.tf_frames import bone_quaternions

    joints = np.zeros((21, 3))
    joints[1] = [-0.05, 0, 0]  # thumb CMC straight along -x from the wrist
    q = bone_quaternions(joints)
    assert np.allclose(q[1], [0, 0, 1, 0])  # 180° about z maps +x to -x
    assert np.allclose(q[2], [0, 0, 0, 1])  # thumb MCP: its bone is along +x: identity
    assert np.allclose(q[3], [0, 0, 0, 1])  # thumb IP: zero-length bone: identity


def test_tf_frames_skip_invalid_joints_and_follow_naming():
    from kpfusion_ros.ros.tf_frames import hand_transforms

    hands = [_hand(3, 0, nan_joint=17), _hand(11, 1)]
    tfs = hand_transforms(_header(), hands, tf_prefix="/robot1_")
    assert len(tfs) == 20 + 21
    names = [t.child_frame_id for t in tfs]
    assert "robot1_hand_3/wrist" in names and "robot1_hand_11/thumb_tip" in names
    assert "robot1_hand_3/pinky_mcp" not in names  # joint 17 was NaN
    assert not any(n.startswith("/") for n in names)
    for t in tfs:
        assert t.header.frame_id == "cam_color_optical_frame" and t.header.stamp.sec == 12
        r = t.transform.rotation
        assert math.isclose(r.x ** 2 + r.y ** 2 + r.z ** 2 + r.w ** 2, 1.0, rel_tol=1e-9)
        v = (t.transform.translation.x, t.transform.translation.y, t.transform.translation.z)
        assert all(math.isfinite(c) for c in v)
    wrist = next(t for t in tfs if t.child_frame_id == "robot1_hand_11/wrist")
    assert wrist.transform.translation.z == pytest.approx(hands[1].joints_m[0, 2])


def test_markers_per_hand_and_deletion_of_vanished_hands():
    from visualization_msgs.msg import Marker

    from kpfusion_ros.joints import BONES
    from kpfusion_ros.ros.markers import NAMESPACE, MarkerPublisherState

    state = MarkerPublisherState()
    arr = state.build(_header(), [_hand(3, 0, nan_joint=2), _hand(4, 1)], lifetime=0.5)
    by_id = {m.id: m for m in arr.markers}
    assert set(by_id) == {30, 31, 32, 40, 41, 42}
    assert all(m.ns == NAMESPACE and m.action == Marker.ADD for m in arr.markers)
    assert all(m.lifetime.sec == 0 and m.lifetime.nanosec == 500_000_000 for m in arr.markers)
    assert by_id[30].type == Marker.SPHERE_LIST and len(by_id[30].points) == 20 == len(by_id[30].colors)
    # joint 2 invalid: bones (1,2) and (2,3) dropped
    assert by_id[31].type == Marker.LINE_LIST and len(by_id[31].points) == 2 * (len(BONES) - 2)
    assert len(by_id[41].points) == 2 * len(BONES)
    assert by_id[42].type == Marker.TEXT_VIEW_FACING and "hand 4" in by_id[42].text
    # hand 3 vanishes: its three markers are deleted, hand 4 updated
    arr2 = state.build(_header(), [_hand(4, 2)])
    deletes = sorted(m.id for m in arr2.markers if m.action == Marker.DELETE)
    assert deletes == [30, 31, 32]
    assert sorted(m.id for m in arr2.markers if m.action == Marker.ADD) == [40, 41, 42]
    # nothing left: hand 4's markers deleted
    arr3 = state.build(_header(), [])
    assert sorted(m.id for m in arr3.markers if m.action == Marker.DELETE) == [40, 41, 42]


def test_hand_pose_array_from_estimates():
    from kpfusion_ros.hand import HANDEDNESS_LEFT
    from kpfusion_ros.msg import HandPose
    from kpfusion_ros.ros.messages import hand_pose_array_msg

    hands = [_hand(5, 0, nan_joint=HandPose.THUMB_TIP)]
    arr = hand_pose_array_msg(_header(), hands)
    assert arr.header.frame_id == "cam_color_optical_frame" and arr.header.stamp.nanosec == 345
    hp = arr.hands[0]
    assert hp.id == 5 and hp.handedness == HandPose.HANDEDNESS_UNKNOWN
    assert hp.joints[HandPose.WRIST].z == pytest.approx(hands[0].joints_m[0, 2])
    assert math.isnan(hp.joints[HandPose.THUMB_TIP].x)
    assert hp.pixel_u[3] == pytest.approx(hands[0].pixels[3, 0], rel=1e-6)
    assert (hp.roi.x_offset, hp.roi.y_offset, hp.roi.width, hp.roi.height) == (10, 20, 100, 90)
    assert hand_pose_array_msg(_header(), []).hands == []
    assert hp.handedness_confidence == pytest.approx(0.5)  # HandEstimate's default: no side information
    # a left hand with its side confidence
    left = _hand(6, 1)
    left.handedness, left.handedness_confidence = HANDEDNESS_LEFT, 0.97
    hl = hand_pose_array_msg(_header(), [left]).hands[0]
    assert hl.handedness == HandPose.HANDEDNESS_LEFT and hl.handedness_confidence == pytest.approx(0.97)


def _model_hand(track_id=7):
    """A hand of the synthetic hand model, as the pipeline publishes it: network order → public order, metres.

    Returns the HandEstimate and the model's joints by name (so the checks below do not use the tables
    under test)."""
    import torch

    from kpfusion_ros.data.synthetic.hand_model import forward_kinematics, sample_pose, sample_shape
    from kpfusion_ros.hand import HandEstimate
    from kpfusion_ros.joints import NETWORK_JOINT_NAMES, reorder

    gen = torch.Generator().manual_seed(3)
    net_mm, _ = forward_kinematics(sample_shape(gen, True), sample_pose(gen))
    net = np.asarray(net_mm, dtype=np.float64) / 1000.0 + np.array([0.0, 0.0, 0.5])
    pub = reorder(net, "network", "public")
    h = HandEstimate(track_id=track_id, joints_m=pub, pixels=np.zeros((21, 2)), joint_confidence=np.ones(21),
                     confidence=0.9, center_m=pub.mean(0), roi=(0, 0, 10, 10))
    return h, dict(zip(NETWORK_JOINT_NAMES, net))


#: The hand's bones by joint name: wrist to every finger's base, then along each finger.
_FINGER_JOINTS = {"thumb": ("cmc", "mcp", "ip", "tip"), **{f: ("mcp", "pip", "dip", "tip")
                                                           for f in ("index", "middle", "ring", "pinky")}}
ANATOMY = [(a, b) for f, js in _FINGER_JOINTS.items()
           for a, b in zip(["wrist"] + [f"{f}_{j}" for j in js[:-1]], [f"{f}_{j}" for j in js])]


def test_markers_draw_the_hands_bones_in_finger_colours():
    from visualization_msgs.msg import Marker

    from kpfusion_ros.joints import FINGER_COLORS
    from kpfusion_ros.ros.markers import hand_markers

    h, by_name = _model_hand()
    spheres, bones, _ = hand_markers(_header(), h)
    assert bones.type == Marker.LINE_LIST and spheres.type == Marker.SPHERE_LIST
    segs = {}
    pts = np.array([[p.x, p.y, p.z] for p in bones.points]).reshape(-1, 2, 3)
    for (a, b), col in zip(pts, bones.colors[::2]):
        segs[(tuple(np.round(a, 12)), tuple(np.round(b, 12)))] = (col.r, col.g, col.b)
    expected = {(tuple(np.round(by_name[a], 12)), tuple(np.round(by_name[b], 12))): FINGER_COLORS[b.split("_")[0]]
                for a, b in ANATOMY}
    assert len(segs) == 20 and set(segs) == set(expected)
    for k, col in segs.items():
        assert np.allclose(col, expected[k], atol=1e-6)
    # every bone of the model hand is a plausible length (no bone jumps between fingers)
    lengths = np.linalg.norm(pts[:, 1] - pts[:, 0], axis=1)
    assert np.all((lengths > 0.01) & (lengths < 0.11)), lengths
    # one sphere per joint, coloured by its finger (the wrist: palm)
    sph = np.array([[p.x, p.y, p.z] for p in spheres.points])
    np.testing.assert_allclose(sph, h.joints_m)
    assert np.allclose([spheres.colors[0].r, spheres.colors[0].g, spheres.colors[0].b], FINGER_COLORS["palm"])


def test_tf_frames_are_named_after_the_joint_they_sit_on_and_point_along_its_bone():
    from kpfusion_ros.ros.tf_frames import hand_transforms

    h, by_name = _model_hand(track_id=2)
    tfs = {t.child_frame_id: t for t in hand_transforms(_header(), [h])}
    parent = {b: a for a, b in ANATOMY}
    assert set(tfs) == {f"hand_2/{n}" for n in by_name}
    for name, p in by_name.items():
        t = tfs[f"hand_2/{name}"].transform
        np.testing.assert_allclose([t.translation.x, t.translation.y, t.translation.z], p, atol=1e-12)
        x, y, z, w = t.rotation.x, t.rotation.y, t.rotation.z, t.rotation.w
        rx = np.array([1 - 2 * (y * y + z * z), 2 * (x * y + z * w), 2 * (x * z - y * w)])
        if name == "wrist":
            assert np.allclose([x, y, z, w], [0, 0, 0, 1])
        else:
            bone = p - by_name[parent[name]]
            np.testing.assert_allclose(rx, bone / np.linalg.norm(bone), atol=1e-9)
