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
    joints[1] = [-0.05, 0, 0]  # index MCP straight along -x from the wrist
    q = bone_quaternions(joints)
    assert np.allclose(q[1], [0, 0, 1, 0])  # 180° about z maps +x to -x
    assert np.allclose(q[2], [0, 0, 0, 1])  # zero-length bone: identity


def test_tf_frames_skip_invalid_joints_and_follow_naming():
    from kpfusion_ros.ros.tf_frames import hand_transforms

    hands = [_hand(3, 0, nan_joint=7), _hand(11, 1)]
    tfs = hand_transforms(_header(), hands, tf_prefix="/robot1_")
    assert len(tfs) == 20 + 21
    names = [t.child_frame_id for t in tfs]
    assert "robot1_hand_3/wrist" in names and "robot1_hand_11/thumb_tip" in names
    assert "robot1_hand_3/pinky_mcp" not in names  # joint 7 was NaN
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
    from kpfusion_ros.msg import HandPose
    from kpfusion_ros.ros.messages import hand_pose_array_msg

    hands = [_hand(5, 0, nan_joint=20)]
    arr = hand_pose_array_msg(_header(), hands)
    assert arr.header.frame_id == "cam_color_optical_frame" and arr.header.stamp.nanosec == 345
    hp = arr.hands[0]
    assert hp.id == 5 and hp.handedness == HandPose.HANDEDNESS_UNKNOWN
    assert hp.joints[HandPose.WRIST].z == pytest.approx(hands[0].joints_m[0, 2])
    assert math.isnan(hp.joints[HandPose.THUMB_TIP].x)
    assert hp.pixel_u[3] == pytest.approx(hands[0].pixels[3, 0], rel=1e-6)
    assert (hp.roi.x_offset, hp.roi.y_offset, hp.roi.width, hp.roi.height) == (10, 20, 100, 90)
    assert hand_pose_array_msg(_header(), []).hands == []
