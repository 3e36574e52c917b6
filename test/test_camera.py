"""The core's one camera type: every accepted form gives the same intrinsics; bad input a clear error."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
import torch

from kpfusion_ros.camera import CameraIntrinsics, camera_array

CAM = (615.0, 612.5, 318.5, 243.25)
K = np.array([[615.0, 0.0, 318.5], [0.0, 612.5, 243.25], [0.0, 0.0, 1.0]])


@dataclass
class RosLikeIntrinsics:  # what the ROS layer passes: named fields and more
    fx: float
    fy: float
    cx: float
    cy: float
    width: int = 640
    height: int = 480


@pytest.mark.parametrize("form", [CAM, list(CAM), np.array(CAM), np.array([CAM]), torch.tensor(CAM, dtype=torch.float64),
                                  K, K.tolist(), torch.from_numpy(K), RosLikeIntrinsics(*CAM),
                                  CameraIntrinsics(*CAM)], ids=lambda f: type(f).__name__)
def test_every_form_gives_the_same_intrinsics(form):
    cam = CameraIntrinsics.of(form)
    assert cam.as_tuple() == CAM and all(type(v) is float for v in cam.as_tuple())
    assert np.array_equal(cam.matrix(), K)
    assert np.array_equal(cam.as_array(), np.array(CAM))
    assert torch.equal(cam.as_tensor(torch.float64), torch.tensor(CAM, dtype=torch.float64))
    assert CameraIntrinsics.of(cam) is cam


def test_bad_cameras_are_named():
    with pytest.raises(ValueError, match="3x3 K"):
        CameraIntrinsics.of(np.zeros(9))
    with pytest.raises(ValueError, match="no skew"):
        CameraIntrinsics.of(np.array([[600.0, 1.0, 320.0], [0.0, 600.0, 240.0], [0.0, 0.0, 1.0]]))
    with pytest.raises(ValueError, match="finite"):
        CameraIntrinsics(600.0, float("nan"), 320.0, 240.0)
    with pytest.raises(ValueError, match="numbers"):
        CameraIntrinsics.of(["a", "b", "c", "d"])


def test_camera_array_repeats_one_camera_and_keeps_per_hand_rows():
    rows = camera_array(K, 3)
    assert rows.shape == (3, 4) and np.array_equal(rows, np.tile(CAM, (3, 1)))
    per_hand = np.array([CAM, (500.0, 500.0, 300.0, 200.0)])
    assert np.array_equal(camera_array(per_hand, 2), per_hand)
    assert np.array_equal(camera_array(np.stack([K, CameraIntrinsics(*per_hand[1]).matrix()])), per_hand)
    with pytest.raises(ValueError, match="2 cameras for 3 hands"):
        camera_array(per_hand, 3)
    with pytest.raises(ValueError, match="finite"):
        camera_array(np.array([CAM, (np.inf, 1.0, 1.0, 1.0)]))
