"""sensor_msgs → numpy at the node's boundary, with every check a camera can fail.

Images go through ``cv_bridge`` (the real one on a ROS 2 distribution, our
stand-in elsewhere). Before it sees a message we check what it would trip on,
so a bad frame becomes a :class:`FrameError` naming the problem instead of a
numpy exception, and we repack the two layouts the real Python bridge reads
wrongly (:func:`bridge_safe`). Depth follows REP 118: ``16UC1``/``mono16`` in
millimetres with 0 invalid, ``32FC1`` in metres with NaN/±Inf invalid (REP 117).
The core works in millimetres with 0 = invalid.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import cv2
import numpy as np

COLOR_ENCODINGS = {"rgb8": 3, "bgr8": 3, "rgba8": 4, "bgra8": 4, "mono8": 1}
DEPTH_ENCODINGS = {"16UC1": 2, "mono16": 2, "32FC1": 4}
#: Bytes of one element (channel value) of each encoding: what ``is_bigendian`` applies to.
_ELEMENT_BYTES = {"rgb8": 1, "bgr8": 1, "rgba8": 1, "bgra8": 1, "mono8": 1, "16UC1": 2, "mono16": 2, "32FC1": 4}
_HOST_BIG_ENDIAN = sys.byteorder == "big"


class FrameError(ValueError):
    """A frame the node cannot use. The message says what was wrong; the node skips the frame.

    The subclasses name the kind of problem, for callers that count or handle kinds differently."""


class EncodingError(FrameError):
    """An image encoding the node does not read."""


class LayoutError(FrameError):
    """An image whose size, ``step`` and data length do not fit together."""


class DepthUnitError(FrameError):
    """Depth values that look like the wrong unit for their encoding (REP 118)."""


class CameraInfoError(FrameError):
    """camera_info without usable intrinsics or resolution."""


class ResolutionMismatchError(FrameError):
    """Depth and color of different sizes, with ``resolution_mismatch:=reject``."""


class StampError(FrameError):
    """A frame whose stamp cannot be used: in the future of the node's clock, duplicate or out of order."""


@dataclass(frozen=True)
class Intrinsics:
    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int

    def as_tuple(self) -> tuple[float, float, float, float]:
        return (self.fx, self.fy, self.cx, self.cy)

    def scaled_to(self, width: int, height: int) -> "Intrinsics":
        """Intrinsics of the same camera at another resolution (binning/resizing; pixel-edge convention)."""
        sx, sy = width / self.width, height / self.height
        return Intrinsics(self.fx * sx, self.fy * sy, self.cx * sx, self.cy * sy, width, height)


def _check_layout(msg, bytes_per_pixel: int, kind: str) -> None:
    h, w, step = int(msg.height), int(msg.width), int(msg.step)
    if h <= 0 or w <= 0:
        raise LayoutError(f"{kind} image is empty ({w}x{h})")
    if step < w * bytes_per_pixel:
        raise LayoutError(f"{kind} image step {step} is smaller than width {w} x {bytes_per_pixel} bytes/pixel")
    n = len(msg.data)
    if n != step * h:
        raise LayoutError(f"{kind} image data has {n} bytes, expected step*height = {step}*{h} = {step * h}")


def bridge_safe(msg, bytes_per_pixel: int):
    """``msg``, or a repacked copy of it that cv_bridge's Python ``imgmsg_to_cv2`` reads correctly.

    The real bridge (vision_opencv ``cv_bridge/python/cv_bridge/core.py``, Humble to Rolling) views the
    data as rows of ``step // pixel size`` pixels: when ``step`` is not a multiple of the pixel size
    (e.g. 321×240 rgb8 padded to 4-byte rows, step 964) every row starts a little early and the pixels
    come out silently shifted. And when ``is_bigendian`` differs from the host's byte order it calls
    ``ndarray.newbyteorder``, which NumPy 2 removed (AttributeError, for every encoding). Such a
    message is repacked here: rows cut to ``width × pixel size`` bytes, elements in the host's byte
    order. Well-formed messages (the usual case) are returned as they are, without a copy. The layout
    must have been checked (``_check_layout``).
    """
    big = bool(msg.is_bigendian)
    step = int(msg.step)
    if step % bytes_per_pixel == 0 and big == _HOST_BIG_ENDIAN:
        return msg
    h, w = int(msg.height), int(msg.width)
    data = bytes(msg.data) if isinstance(msg.data, list) else msg.data
    rows = np.frombuffer(data, dtype=np.uint8).reshape(h, step)[:, :w * bytes_per_pixel]
    item = _ELEMENT_BYTES[msg.encoding]
    if big != _HOST_BIG_ENDIAN and item > 1:
        rows = rows.reshape(h, -1, item)[..., ::-1]  # each element's bytes reversed
    return type(msg)(header=msg.header, height=h, width=w, encoding=msg.encoding,
                     is_bigendian=int(_HOST_BIG_ENDIAN), step=w * bytes_per_pixel,
                     data=np.ascontiguousarray(rows).tobytes())


def color_to_rgb(msg, bridge) -> np.ndarray:
    """A color ``sensor_msgs/Image`` as an H×W×3 uint8 RGB array (mono8 is replicated)."""
    enc = msg.encoding
    if enc not in COLOR_ENCODINGS:
        raise EncodingError(f"unsupported color encoding '{enc}' (supported: {', '.join(sorted(COLOR_ENCODINGS))})")
    _check_layout(msg, COLOR_ENCODINGS[enc], "color")
    img = bridge.imgmsg_to_cv2(bridge_safe(msg, COLOR_ENCODINGS[enc]), desired_encoding="passthrough")
    if enc == "rgb8":
        return np.ascontiguousarray(img)
    code = {"bgr8": cv2.COLOR_BGR2RGB, "rgba8": cv2.COLOR_RGBA2RGB,
            "bgra8": cv2.COLOR_BGRA2RGB, "mono8": cv2.COLOR_GRAY2RGB}[enc]
    return cv2.cvtColor(img, code)


def depth_to_mm(msg, bridge) -> np.ndarray:
    """A depth ``sensor_msgs/Image`` as H×W float32 millimetres, 0 where invalid (REP 117/118)."""
    enc = msg.encoding
    if enc not in DEPTH_ENCODINGS:
        raise EncodingError(f"unsupported depth encoding '{enc}' (REP 118: 16UC1 in mm or 32FC1 in m)")
    _check_layout(msg, DEPTH_ENCODINGS[enc], "depth")
    img = bridge.imgmsg_to_cv2(bridge_safe(msg, DEPTH_ENCODINGS[enc]), desired_encoding="passthrough")
    if enc == "32FC1":
        d = np.asarray(img, dtype=np.float32) * 1000.0
        d[~np.isfinite(d) | (d <= 0)] = 0.0
    else:
        d = np.asarray(img, dtype=np.float32)
    # the unit is a property of the stream: a 1-in-16 pixel subsample decides it as well as
    # the whole image does, at a fraction of the cost; the full image only if that has no depth
    valid = d[::4, ::4][d[::4, ::4] > 0]
    if not valid.size:
        valid = d[d > 0]
    if valid.size:
        med = float(np.median(valid))
        if enc != "32FC1" and med < 20.0:
            raise DepthUnitError(f"16UC1 depth has median {med:.1f}; expected millimetres (REP 118) — "
                                 "the stream looks like metres, i.e. 1000x too small")
        if enc == "32FC1" and med > 20000.0:
            raise DepthUnitError(f"32FC1 depth has median {med / 1000:.0f} m; expected metres (REP 118) — "
                                 "the stream looks like millimetres")
    return d


def intrinsics_from_info(info, *, use_rectified: bool = False) -> Intrinsics:
    """Pinhole intrinsics from ``sensor_msgs/CameraInfo``: K, or P for rectified images."""
    if use_rectified:
        p = np.asarray(info.p, dtype=np.float64)
        fx, fy, cx, cy = p[0], p[5], p[2], p[6]
        src = "P"
    else:
        k = np.asarray(info.k, dtype=np.float64)
        fx, fy, cx, cy = k[0], k[4], k[2], k[5]
        src = "K"
    vals = np.array([fx, fy, cx, cy])
    if not np.all(np.isfinite(vals)):
        raise CameraInfoError(f"camera_info {src} has non-finite entries")
    if fx <= 0 or fy <= 0:
        raise CameraInfoError(f"camera_info {src} has fx={fx:g}, fy={fy:g}: the camera is uncalibrated "
                         "(K[0] == 0) or the matrix is invalid")
    w, h = int(info.width), int(info.height)
    if w <= 0 or h <= 0:
        raise CameraInfoError(f"camera_info has no resolution ({w}x{h})")
    return Intrinsics(float(fx), float(fy), float(cx), float(cy), w, h)


def align_depth_to_color(depth_mm: np.ndarray, color_shape: tuple[int, int], policy: str) -> np.ndarray:
    """Bring a registered depth image to the color resolution, or reject the mismatch.

    ``policy='resize'`` resizes with nearest neighbour (depth must never be
    interpolated across edges), valid when the depth is registered to the color
    camera at another resolution; ``'reject'`` raises :class:`ResolutionMismatchError`.
    """
    h, w = color_shape
    if depth_mm.shape == (h, w):
        return depth_mm
    if policy != "resize":
        raise ResolutionMismatchError(f"depth is {depth_mm.shape[1]}x{depth_mm.shape[0]} but color is {w}x{h} "
                         "(set resolution_mismatch:=resize if the depth is registered to the color camera)")
    return cv2.resize(depth_mm, (w, h), interpolation=cv2.INTER_NEAREST)
