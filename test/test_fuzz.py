"""Property-based fuzzing of the node's conversion and preprocessing boundary (hypothesis).

``FrameProcessor.process`` (a real pipeline on random:lite weights) must raise only
:class:`FrameError` or return a valid result for any Image/CameraInfo a camera or a
bug could send; ``crop_hands`` must never raise for finite inputs and must return
finite tensors. No DDS: the messages are built in-process.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from conftest import ros_available  # noqa: E402

FUZZ = settings(max_examples=60, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])

COLOR_ENCS = ["rgb8", "bgr8", "rgba8", "bgra8", "mono8", "yuv422", "16UC1", "", "RGB8", "8UC3"]
DEPTH_ENCS = ["16UC1", "mono16", "32FC1", "8UC1", "32FC3", "", "16SC1", "rgb8"]
BPP = {"rgb8": 3, "bgr8": 3, "rgba8": 4, "bgra8": 4, "mono8": 1, "yuv422": 2, "16UC1": 2, "RGB8": 3,
       "8UC3": 3, "mono16": 2, "32FC1": 4, "8UC1": 1, "32FC3": 12, "16SC1": 2, "": 1}
ODD_FLOATS = st.sampled_from([0.0, -0.0, 1e-12, -500.0, 1e12, math.nan, math.inf, -math.inf, 1e300])


@st.composite
def images(draw, encs, depth):
    from sensor_msgs.msg import Image

    enc = draw(st.sampled_from(encs))
    w = draw(st.sampled_from([0, 1, 2, 7, 33]))
    h = draw(st.sampled_from([0, 1, 3, 24]))
    bpp = BPP[enc]
    pad = draw(st.sampled_from([0, 0, 1, 3, -1]))
    step = max(w * bpp + pad, 0)
    rows = h + draw(st.sampled_from([0, 0, 0, -1, 1]))
    n = max(step * rows + draw(st.sampled_from([0, 0, 0, -1, 5])), 0)
    big = draw(st.booleans())
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    kind = draw(st.sampled_from(["random", "zeros", "special"]))
    if depth and enc == "32FC1" and kind == "special":
        vals = rng.choice(np.array([np.nan, np.inf, -np.inf, 0.0, 0.5, -1.0, 1e30], dtype=np.float32), n // 4 + 1)
        data = vals.astype(">f4" if big else "<f4").tobytes()[:n].ljust(n, b"\0")
    elif depth and enc in ("16UC1", "mono16") and kind == "special":
        vals = rng.integers(200, 1200, n // 2 + 1).astype(">u2" if big else "<u2")
        data = vals.tobytes()[:n].ljust(n, b"\0")
    elif kind == "zeros":
        data = bytes(n)
    else:
        data = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
    return Image(height=h, width=w, encoding=enc, is_bigendian=int(big), step=step, data=data)


@st.composite
def infos(draw):
    from sensor_msgs.msg import CameraInfo

    w = draw(st.sampled_from([0, 1, 33, 640]))
    h = draw(st.sampled_from([0, 1, 24, 480]))
    fx = draw(st.one_of(ODD_FLOATS, st.floats(0.5, 2000)))
    fy = draw(st.one_of(ODD_FLOATS, st.floats(0.5, 2000)))
    cx = draw(st.one_of(ODD_FLOATS, st.floats(-100, 800)))
    cy = draw(st.one_of(ODD_FLOATS, st.floats(-100, 800)))
    info = CameraInfo(height=h, width=w)
    info.k = [fx, 0.0, cx, 0.0, fy, cy, 0.0, 0.0, 1.0]
    info.p = [fx, 0.0, cx, 0.0, 0.0, fy, cy, 0.0, 0.0, 0.0, 1.0, 0.0]
    return info


@pytest.fixture(scope="module")
def pipeline():
    from kpfusion_ros.localization import LocalizerConfig
    from kpfusion_ros.pipeline import HandPosePipeline, PipelineConfig

    # min_range 50 mm so that fuzzed depth values of a few hundred mm are searched for hands
    return HandPosePipeline(PipelineConfig(model_path="random:lite", device="cpu",
                                           localizer=LocalizerConfig(min_range_mm=50.0)))


_stamp = iter(range(1, 10**9))


@pytest.mark.skipif(not ros_available(), reason="needs sensor_msgs (the colcon install)")
@FUZZ
@given(color=images(COLOR_ENCS, False), depth=images(DEPTH_ENCS, True), info=infos(),
       rectified=st.booleans(), mismatch=st.sampled_from(["resize", "reject"]))
def test_frame_processor_raises_only_frame_error(pipeline, color, depth, info, rectified, mismatch):
    from cv_bridge import CvBridge

    from kpfusion_ros.ros.conversions import FrameError
    from kpfusion_ros.ros.processing import FrameProcessor, ProcessingOptions

    proc = FrameProcessor(pipeline, CvBridge(), ProcessingOptions(use_rectified_intrinsics=rectified,
                                                                  resolution_mismatch=mismatch))
    k = next(_stamp)
    for m in (color, depth):
        m.header.stamp.sec, m.header.stamp.nanosec = 1_700_000_000 + k, 0
    try:
        out = proc.process(color, depth, info)
    except FrameError:
        return
    assert out.rgb.shape[:2] == (color.height, color.width) and out.rgb.dtype == np.uint8
    for h in out.result.hands:
        assert np.all(np.isfinite(h.joints_m)) and 0.0 <= h.confidence <= 1.0
    assert out.poses.header.stamp.sec == color.header.stamp.sec


@st.composite
def crop_cases(draw):
    h = draw(st.sampled_from([1, 2, 5, 24]))
    w = draw(st.sampled_from([1, 3, 32]))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    kind = draw(st.sampled_from(["random", "zeros", "far", "const"]))
    if kind == "zeros":
        depth = np.zeros((h, w), np.float32)
    elif kind == "far":
        depth = rng.uniform(5e4, 6e4, (h, w)).astype(np.float32)
    elif kind == "const":
        depth = np.full((h, w), 500.0, np.float32)
    else:
        depth = rng.uniform(0, 1500, (h, w)).astype(np.float32) * (rng.random((h, w)) > 0.3)
    color = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    k = draw(st.integers(1, 3))
    finite = st.floats(-1e4, 1e4, allow_nan=False, allow_infinity=False)
    centres = np.array([[draw(finite), draw(finite), draw(st.sampled_from([-300.0, 0.0, 1e-3, 400.0, 5e4]))]
                        for _ in range(k)])
    fx = draw(st.sampled_from([1e-6, 1e-3, 1.0, 300.0, 1e6, -300.0]))
    fy = draw(st.sampled_from([1e-6, 1.0, 300.0, 1e6, -50.0]))
    cx = draw(st.sampled_from([-1e4, -5.0, 0.0, w / 2, 1e4]))
    cy = draw(st.sampled_from([-1e4, 0.0, h / 2, 1e4]))
    mirror = [draw(st.booleans()) for _ in range(k)]
    return color, depth, centres, (fx, fy, cx, cy), mirror


@FUZZ
@given(case=crop_cases())
def test_crop_hands_never_raises_and_returns_finite_tensors(case):
    import torch

    from kpfusion_ros.preprocessing import CropConfig, crop_hands

    color, depth, centres, cam, mirror = case
    cfg = CropConfig(crop_size=16, num_points=32)
    batch = crop_hands(color, depth, centres, cam, cfg, generator=torch.Generator().manual_seed(0), mirror=mirror)
    # every tensor of a valid crop is finite; a degenerate crop (centre z <= 0: at or behind the camera) is
    # flagged invalid and never published by the pipeline (its tensors stay finite: see the test below)
    valid = batch.valid
    for t in batch.network_inputs():
        if t.is_floating_point():
            assert torch.isfinite(t[valid]).all(), t
    assert torch.isfinite(batch.rgb).all() and torch.isfinite(batch.depth).all() and torch.isfinite(batch.pcl).all()


def test_crop_hands_mirrored_centre_at_the_camera_is_finite():
    import torch

    from kpfusion_ros.preprocessing import CropConfig, crop_hands

    batch = crop_hands(np.zeros((1, 1, 3), np.uint8), np.zeros((1, 1), np.float32), np.array([[0.0, 0.0, 0.0]]),
                       (1e-6, 1e-6, -1e4, -1e4), CropConfig(crop_size=16, num_points=32), mirror=[True])
    assert not bool(batch.valid[0])
    for t in batch.network_inputs():
        if t.is_floating_point():
            assert torch.isfinite(t).all()
