"""sensor_msgs → numpy at the node's boundary: right with the real cv_bridge's quirks, typed errors.

The cv_bridge used here is the real one where installed, else the stand-in, which reads messages the
way upstream's Python ``imgmsg_to_cv2`` does (stand_ins/README.md): rows of ``step // pixel size``
pixels (padding that is not a multiple of the pixel size shifts the rows) and ``ndarray.newbyteorder``
for a non-host byte order (gone in NumPy 2). The first test shows the bridge doing that; the others
that the node's conversions give the right pixels anyway.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import ros_available

sys.path.insert(0, str(Path(__file__).parent / "helpers"))

pytestmark = pytest.mark.skipif(not ros_available(), reason="needs the colcon install: run `make test`")

NUMPY2 = np.lib.NumpyVersion(np.__version__) >= "2.0.0"
HOST_BIG = sys.byteorder == "big"
COLOR = {"rgb8": 3, "bgr8": 3, "rgba8": 4, "bgra8": 4, "mono8": 1}
DEPTH = {"16UC1": "u2", "mono16": "u2", "32FC1": "f4"}


def image(arr: np.ndarray, encoding: str, *, align: int = 1, pad: int = 0, big: bool = HOST_BIG):
    """sensor_msgs/Image of ``arr``, each row padded (junk 0xAB bytes) to a multiple of ``align`` bytes, plus ``pad``."""
    from sensor_msgs.msg import Image

    a = arr.astype(arr.dtype.newbyteorder(">" if big else "<"))
    h, w = arr.shape[:2]
    rows = a.reshape(h, -1).view(np.uint8).reshape(h, -1)
    step = -(-rows.shape[1] // align) * align + pad
    buf = np.full((h, step), 0xAB, np.uint8)
    buf[:, :rows.shape[1]] = rows
    return Image(height=h, width=w, encoding=encoding, is_bigendian=int(big), step=step, data=buf.tobytes())


def test_the_bridge_shifts_padded_rows_and_fails_on_the_other_byte_order():
    from cv_bridge import CvBridge

    rgb = np.random.default_rng(0).integers(0, 256, (240, 321, 3), dtype=np.uint8)
    msg = image(rgb, "rgb8", align=4)
    assert msg.step == 964  # 963 bytes of pixels + 1 byte of padding per row
    seen = CvBridge().imgmsg_to_cv2(msg)
    changed = int(np.any(seen != rgb, axis=2).sum())
    assert seen.shape == rgb.shape and changed > 0.95 * rgb.shape[0] * rgb.shape[1]  # silently shifted
    assert np.array_equal(seen[0], rgb[0])  # row 0 is right; row r starts r bytes early
    np.testing.assert_array_equal(seen.reshape(-1)[963:963 * 2], msg.data[963:963 * 2])
    depth = image(np.full((4, 5), 700, np.uint16), "16UC1", big=not HOST_BIG)
    if NUMPY2:
        with pytest.raises(AttributeError):  # ndarray.newbyteorder was removed in NumPy 2
            CvBridge().imgmsg_to_cv2(depth)
    else:
        np.testing.assert_array_equal(CvBridge().imgmsg_to_cv2(depth), 700)


@pytest.mark.parametrize("big", [False, True])
@pytest.mark.parametrize("align,pad", [(1, 0), (4, 0), (8, 0), (7, 0), (1, 1), (1, 6)])
@pytest.mark.parametrize("encoding", sorted(COLOR))
def test_color_is_read_right_whatever_the_padding_and_byte_order(encoding, align, pad, big):
    import cv2
    from cv_bridge import CvBridge

    from kpfusion_ros.ros.conversions import color_to_rgb

    ch = COLOR[encoding]
    rgb = np.random.default_rng(1).integers(0, 256, (24, 33, 3), dtype=np.uint8)
    native = {"rgb8": rgb, "bgr8": rgb[..., ::-1], "rgba8": np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)]),
              "bgra8": np.dstack([rgb[..., ::-1], np.zeros(rgb.shape[:2], np.uint8)]),
              "mono8": cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)}[encoding]
    assert native.reshape(24, 33, -1).shape[2] == ch
    expected = cv2.cvtColor(native, cv2.COLOR_GRAY2RGB) if encoding == "mono8" else rgb
    out = color_to_rgb(image(native, encoding, align=align, pad=pad, big=big), CvBridge())
    assert out.dtype == np.uint8 and out.shape == (24, 33, 3)
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("big", [False, True])
@pytest.mark.parametrize("pad", [0, 1, 3, 4])
@pytest.mark.parametrize("encoding", sorted(DEPTH))
def test_depth_is_read_right_whatever_the_padding_and_byte_order(encoding, pad, big):
    from cv_bridge import CvBridge

    from kpfusion_ros.ros.conversions import depth_to_mm

    rng = np.random.default_rng(2)
    mm = rng.integers(300, 1500, (24, 33)).astype(np.float32)
    mm[rng.random(mm.shape) < 0.2] = 0.0
    if encoding == "32FC1":
        native = np.where(mm > 0, mm / 1000.0, np.nan).astype(np.float32)
        expected = native * np.float32(1000.0)
        expected[~np.isfinite(expected)] = 0.0
    else:
        native = mm.astype(np.uint16)
        expected = mm
    out = depth_to_mm(image(native, encoding, pad=pad, big=big), CvBridge())
    assert out.dtype == np.float32 and out.dtype.isnative and out.shape == (24, 33)
    np.testing.assert_array_equal(out, expected)


def test_bridge_safe_copies_only_what_the_bridge_would_misread():
    from kpfusion_ros.ros.conversions import bridge_safe

    rgb = np.arange(3 * 5 * 3, dtype=np.uint8).reshape(3, 5, 3)
    plain, padded4 = image(rgb, "rgb8"), image(rgb, "rgb8", align=4)  # steps 15 and 16
    assert bridge_safe(plain, 3) is plain
    assert bridge_safe(image(rgb, "rgb8", align=3 * 8), 3).step == 24  # a multiple of the pixel: as it is
    out = bridge_safe(padded4, 3)
    assert out is not padded4 and (out.step, out.width, out.height, out.encoding) == (15, 5, 3, "rgb8")
    assert bytes(out.data) == rgb.tobytes() and out.header == padded4.header
    d = np.array([[1, 2], [258, 65535]], np.uint16)
    swapped = bridge_safe(image(d, "16UC1", big=not HOST_BIG), 2)
    assert swapped.is_bigendian == int(HOST_BIG) and swapped.step == 4
    np.testing.assert_array_equal(np.frombuffer(bytes(swapped.data), np.uint16).reshape(2, 2), d)
    flag_only = bridge_safe(image(rgb, "rgb8", big=not HOST_BIG), 3)  # 8-bit: only the flag changes
    assert flag_only.is_bigendian == int(HOST_BIG) and bytes(flag_only.data) == rgb.tobytes()


def test_the_node_gives_the_same_poses_for_padded_big_endian_frames():
    """A 321×240 frame as a camera with 4-byte-aligned rows and big-endian depth sends it: same poses."""
    from cv_bridge import CvBridge
    from kpfusion_ros.ros.hand_frames import frame_messages

    from kpfusion_ros.data.synthetic import SceneConfig, SyntheticConfig, render_frame
    from kpfusion_ros.pipeline import HandPosePipeline, PipelineConfig
    from kpfusion_ros.ros.processing import FrameProcessor

    scene = SceneConfig(num_hands=1, clutter=(0, 0), p_occluder=0.0, p_near_object=0.0, p_grasp=0.0, p_edge=0.0,
                        p_table=0.0)
    frame = render_frame(5, 0, SyntheticConfig(width=321, height=240, clean=True, scene=scene))
    runs = {}
    for odd in (False, True):
        proc = FrameProcessor(HandPosePipeline(PipelineConfig(model_path="random:lite", device="cpu")), CvBridge())
        poses = []
        for k in range(4):  # the tracker confirms the hand on the third frame
            c, d, i = frame_messages(frame, 1_700_000_000_000_000_000 + k * 33_000_000)
            if odd:
                c = image(frame.color, "rgb8", align=4)
                d = image(frame.depth.astype(np.uint16), "16UC1", big=not HOST_BIG)
                c.header = d.header = i.header
            poses.append([h.joints_m for h in proc.process(c, d, i).result.hands])
        runs[odd] = poses
    assert len(runs[False][-1]) == 1
    for a, b in zip(runs[False], runs[True]):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y)


def test_each_kind_of_bad_frame_raises_its_own_frame_error():
    from cv_bridge import CvBridge
    from sensor_msgs.msg import CameraInfo, Image
    from std_msgs.msg import Header
    from builtin_interfaces.msg import Time

    from kpfusion_ros.ros import conversions as cv
    from kpfusion_ros.ros.processing import FrameProcessor

    br = CvBridge()
    with pytest.raises(cv.EncodingError, match="unsupported color encoding 'yuv422'"):
        cv.color_to_rgb(Image(height=1, width=1, encoding="yuv422", step=2, data=bytes(2)), br)
    with pytest.raises(cv.LayoutError, match="step 2 is smaller"):
        cv.color_to_rgb(Image(height=1, width=1, encoding="rgb8", step=2, data=bytes(2)), br)
    with pytest.raises(cv.LayoutError, match="data has 5 bytes"):
        cv.depth_to_mm(Image(height=2, width=1, encoding="16UC1", step=2, data=bytes(5)), br)
    with pytest.raises(cv.DepthUnitError, match="looks like metres"):
        cv.depth_to_mm(image(np.ones((4, 4), np.uint16), "16UC1"), br)
    with pytest.raises(cv.CameraInfoError, match="uncalibrated"):
        cv.intrinsics_from_info(CameraInfo(width=4, height=4))
    with pytest.raises(cv.ResolutionMismatchError):
        cv.align_depth_to_color(np.zeros((2, 2), np.float32), (4, 4), "reject")
    proc = FrameProcessor(pipeline=None, bridge=br)
    proc.last_stamp_ns = 5_000_000_000
    with pytest.raises(cv.StampError, match="duplicate stamp"):
        proc.check_stamp(Image(header=Header(stamp=Time(sec=5))), now_ns=None)
    for cls in (cv.EncodingError, cv.LayoutError, cv.DepthUnitError, cv.CameraInfoError,
                cv.ResolutionMismatchError, cv.StampError):
        assert issubclass(cls, cv.FrameError)
