"""F-PHAB reader (First-Person Hand Action Benchmark, Garcia-Hernando et al., CVPR 2018).

The dataset is research-only and forbids redistribution: read it from a local copy, never
commit its frames or anything derived from them (docs/datasets.md).

Layout (the official one; ``<seq>`` = ``Subject_N/<action>/<repetition>``)::

    root/Video_files/<seq>/color/color_NNNN.jpeg        1920×1080 colour (SR300)
    root/Video_files/<seq>/depth/depth_NNNN.png         640×480 uint16 depth, mm (0 = invalid)
    root/Hand_pose_annotation_v1/<seq>/skeleton.txt     one line per frame: t x1 y1 z1 … x21 y21 z21

The skeletons are in mm in the **depth camera's frame** (the dataset's README calls them "world
coordinates"; projecting them with the depth intrinsics puts them on the hand in the depth
image, and ``X_c = R·X_d + t`` with the README's extrinsics puts them on the hand in the colour
image), in the F-PHAB joint order :data:`FPHAB_JOINT_NAMES`. Only the subject's **right** hand is
labelled (:data:`LABELLED_HAND`); the left hand may be visible without a label.

What a frame (:class:`~kpfusion_ros.data.synthetic.HandFrame`) contains, as for the other
readers (:mod:`kpfusion_ros.data.dexycb`):

* ``color``: the colour image resized (``cv2.INTER_AREA``) to ``color_size`` (default 640×360),
  H×W×3 uint8 RGB; ``cam``: the colour intrinsics scaled to that size (:func:`scale_intrinsics`);
* ``depth``: the depth image **registered into that colour camera** (:func:`register_depth`),
  H×W uint16 mm of the colour camera's z, 0 where no depth pixel lands (holes stay 0);
* ``joints_mm``: 1×21×3 float32, colour camera frame (x right, y down, z forward, mm), in the
  network's joint order (:data:`FPHAB_TO_NETWORK`); ``handedness`` ``('right',)``;
* ``visible``: the joint projects inside the image (F-PHAB does not label occlusion);
  ``instance`` all −1, ``joint_radius_mm`` zeros; ``stamp`` = frame number / 30 s; ``index`` the
  reader index. The reader's order is sequence by sequence, frames in time order, so it can be
  played as a stream (:meth:`FPHAB.sequence_indices`).

Lines of ``skeleton.txt`` whose 63 coordinates are all 0 (no annotation) are skipped
(``num_skipped``). Missing files raise :class:`FileNotFoundError` naming the path; malformed
skeleton lines, images of the wrong size or type raise :class:`ValueError` naming the file.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Optional, Sequence

import cv2
import numpy as np

from ..joints import NUM_JOINTS, order_index
from .dexycb import _SampleList, _need, make_frame, read_color_rgb
from .synthetic.generator import HandFrame

__all__ = ["FPHAB", "FPHABCalibration", "FPHAB_CALIBRATION", "FPHAB_JOINT_NAMES", "FPHAB_TO_NETWORK",
           "NETWORK_TO_FPHAB", "LABELLED_HAND", "FPHAB_FPS", "DEFAULT_COLOR_SIZE", "register_depth",
           "scale_intrinsics", "read_skeleton", "fphab_to_network", "network_to_fphab", "depth_to_color_mm",
           "project_mm"]

FPHAB_FPS = 30.0
VIDEO_DIR = "Video_files"
ANNOTATION_DIR = "Hand_pose_annotation_v1"
LABELLED_HAND = "right"
#: (width, height) the reader registers to unless told otherwise: the colour image / 3.
DEFAULT_COLOR_SIZE = (640, 360)

# ---- calibration: the dataset's README ("Camera parameters"), Intel RealSense SR300 -------------
#: Depth camera (fx, fy, cx, cy), pixels of the 640×480 depth image (README: "Depth sensor").
DEPTH_INTRINSICS = (475.065948, 475.065857, 315.944855, 245.287079)
DEPTH_SIZE = (640, 480)
#: Colour camera (fx, fy, cx, cy), pixels of the 1920×1080 colour image (README: "RGB sensor").
COLOR_INTRINSICS = (1395.749023, 1395.749268, 935.732544, 540.681030)
COLOR_SIZE = (1920, 1080)
#: Depth → colour extrinsics (README: "Extrinsics", the 3×3 block of its 4×3 R), X_c = R·X_d + t.
DEPTH_TO_COLOR_R = ((0.999988496304, -0.00468848412856, 0.000982563360594),
                    (0.00469115935266, 0.999985218048, -0.00273845880292),
                    (-0.000969709653873, 0.00274303671904, 0.99999576807))
#: Translation of the same transform, mm (README: t = [25.7; 1.22; 3.902; 1]).
DEPTH_TO_COLOR_T_MM = (25.7, 1.22, 3.902)

# ---- joints -------------------------------------------------------------------------------
#: F-PHAB joint order (README "Hand pose data"). The thumb's TMCP / TPIP / TDIP / TTIP are, in
#: anatomical terms, its CMC (MANO "thumb1"), MCP, IP and tip.
FPHAB_JOINT_NAMES: tuple[str, ...] = (
    "Wrist", "TMCP", "IMCP", "MMCP", "RMCP", "PMCP", "TPIP", "TDIP", "TTIP", "IPIP", "IDIP", "ITIP",
    "MPIP", "MDIP", "MTIP", "RPIP", "RDIP", "RTIP", "PPIP", "PDIP", "PTIP")
#: F-PHAB → network (MANO's 16, then the tips index, middle, pinky, ring, thumb):
#: ``joints_network = joints_fphab[FPHAB_TO_NETWORK]``, from :func:`kpfusion_ros.joints.order_index`
#: (TMCP/TPIP/TDIP = the thumb's CMC/MCP/IP; tests check it against the joint names).
FPHAB_TO_NETWORK: tuple[int, ...] = tuple(int(i) for i in order_index("fphab", "network"))
#: The inverse permutation: ``joints_fphab = joints_network[NETWORK_TO_FPHAB]``.
NETWORK_TO_FPHAB: tuple[int, ...] = tuple(int(i) for i in order_index("network", "fphab"))

_F2N = np.asarray(FPHAB_TO_NETWORK, dtype=np.int64)
_N2F = np.asarray(NETWORK_TO_FPHAB, dtype=np.int64)


def fphab_to_network(joints: np.ndarray) -> np.ndarray:
    """…×21×3 joints in F-PHAB order → the network's order."""
    return np.asarray(joints)[..., _F2N, :]


def network_to_fphab(joints: np.ndarray) -> np.ndarray:
    """Inverse of :func:`fphab_to_network`."""
    return np.asarray(joints)[..., _N2F, :]


# ---- camera geometry -------------------------------------------------------------------------

def scale_intrinsics(cam: Sequence[float], from_size: tuple[int, int], to_size: tuple[int, int]
                     ) -> tuple[float, float, float, float]:
    """(fx, fy, cx, cy) of an image resized from ``from_size`` to ``to_size`` ((width, height)).

    Pixel centres are integers (OpenCV): a pixel edge at −0.5 stays at −0.5, so
    c' = (c + 0.5)·s − 0.5 and f' = f·s with s = new / old along each axis.
    """
    fx, fy, cx, cy = (float(v) for v in cam)
    sx = to_size[0] / float(from_size[0])
    sy = to_size[1] / float(from_size[1])
    return fx * sx, fy * sy, (cx + 0.5) * sx - 0.5, (cy + 0.5) * sy - 0.5


@dataclass(frozen=True)
class FPHABCalibration:
    """Both cameras of the rig and the depth → colour transform ``X_c = R·X_d + t`` (mm).

    Sizes are (width, height) of the images the intrinsics belong to. :data:`FPHAB_CALIBRATION`
    holds the dataset's values; tests build small rigs with the same structure.
    """

    depth_intrinsics: tuple[float, float, float, float] = DEPTH_INTRINSICS
    depth_size: tuple[int, int] = DEPTH_SIZE
    color_intrinsics: tuple[float, float, float, float] = COLOR_INTRINSICS
    color_size: tuple[int, int] = COLOR_SIZE
    rotation: tuple[tuple[float, ...], ...] = DEPTH_TO_COLOR_R
    translation_mm: tuple[float, float, float] = DEPTH_TO_COLOR_T_MM

    def __post_init__(self) -> None:
        R = self.R
        if R.shape != (3, 3) or not np.allclose(R @ R.T, np.eye(3), atol=1e-4) or np.linalg.det(R) <= 0:
            raise ValueError("rotation must be a 3×3 rotation matrix")
        if np.asarray(self.translation_mm, dtype=np.float64).shape != (3,):
            raise ValueError("translation_mm must have 3 values")
        for name in ("depth_intrinsics", "color_intrinsics"):
            k = np.asarray(getattr(self, name), dtype=np.float64)
            if k.shape != (4,) or not np.all(np.isfinite(k)) or k[0] <= 0 or k[1] <= 0:
                raise ValueError(f"{name} must be (fx, fy, cx, cy) with fx, fy > 0")
        for name in ("depth_size", "color_size"):
            w, h = getattr(self, name)
            if int(w) < 1 or int(h) < 1:
                raise ValueError(f"{name} must be (width, height) >= 1")

    @property
    def R(self) -> np.ndarray:
        return np.asarray(self.rotation, dtype=np.float64)

    @property
    def t(self) -> np.ndarray:
        return np.asarray(self.translation_mm, dtype=np.float64)

    def color_camera(self, size: Optional[tuple[int, int]] = None) -> tuple[float, float, float, float]:
        """Colour intrinsics for the colour image resized to ``size`` (default: native size)."""
        return scale_intrinsics(self.color_intrinsics, self.color_size, size or self.color_size)


FPHAB_CALIBRATION = FPHABCalibration()


def depth_to_color_mm(points_mm: np.ndarray, calib: FPHABCalibration = FPHAB_CALIBRATION) -> np.ndarray:
    """…×3 points of the depth camera's frame → the colour camera's frame (``X_c = R·X_d + t``)."""
    p = np.asarray(points_mm, dtype=np.float64)
    return p @ calib.R.T + calib.t


def project_mm(points_mm: np.ndarray, cam: Sequence[float]) -> np.ndarray:
    """…×3 camera-frame points (mm) → …×2 pixel coordinates (u, v) with intrinsics (fx, fy, cx, cy)."""
    p = np.asarray(points_mm, dtype=np.float64)
    fx, fy, cx, cy = (float(v) for v in cam)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.stack([p[..., 0] * fx / p[..., 2] + cx, p[..., 1] * fy / p[..., 2] + cy], axis=-1)


#: Neighbouring depth pixels within this fraction of a pixel's depth are one surface (they share the
#: corner between them in :func:`register_depth`); larger steps are edges, which are not bridged.
SURFACE_STEP = 0.05


def register_depth(depth_mm: np.ndarray, calib: FPHABCalibration = FPHAB_CALIBRATION,
                   size: tuple[int, int] = DEFAULT_COLOR_SIZE, surface_step: float = SURFACE_STEP) -> np.ndarray:
    """Depth image of the depth camera → depth of the colour camera at ``size`` ((w, h)), float32 mm.

    Forward warp with z-buffering, vectorised over all pixels:

    1. every valid depth pixel (u, v, z) (z > 0 and finite) is a small quad of the surface; its
       four corners (u ± ½, v ± ½) take the mean depth of the pixels around that corner that lie on
       the pixel's surface (depth within ``surface_step``·z of its own), so neighbours on one surface
       share their corners exactly and a slanted surface stays watertight after the parallax of the
       baseline; across a depth edge nothing is shared, so no surface is stretched over the edge;
    2. the corners are back-projected with the depth intrinsics, moved into the colour frame
       (``X_c = R·X_d + t``) and projected with the colour intrinsics scaled to ``size``; the pixel
       covers the colour pixels whose centres fall inside the half-open box [min, max) of its
       projected corners (any output resolution: a coarser one takes about one depth pixel per
       colour pixel, a finer one spreads a depth pixel over several);
    3. each colour pixel keeps the nearest colour-camera z (of the covering pixels' centres): a
       nearer surface hides a farther one, as seen from the colour camera.

    Colour pixels that nothing covers (invalid depth, outside the depth camera's view, the
    disocclusion beside near objects) stay 0: no depth is invented. An isolated depth pixel covers
    only colour pixels within half its footprint of its centre's projection (≤ 0.5 px at 640×360,
    where the footprint is ≈ 0.98 px).
    """
    d = np.asarray(depth_mm)
    if d.ndim != 2:
        raise ValueError(f"depth must be H×W, got shape {d.shape}")
    Hd, Wd = d.shape
    if (Wd, Hd) != tuple(calib.depth_size):
        raise ValueError(f"depth image is {Wd}×{Hd}, the calibration is for {calib.depth_size[0]}×"
                         f"{calib.depth_size[1]}")
    W, H = int(size[0]), int(size[1])
    if W < 1 or H < 1:
        raise ValueError(f"output size must be >= 1×1, got {size}")
    out = np.full(H * W, np.inf, dtype=np.float64)
    zf = d.astype(np.float64)
    zf[~(np.isfinite(zf) & (zf > 0))] = 0.0
    v, u = np.nonzero(zf)
    if v.size:
        zpad = np.pad(zf, 1)  # 0 (invalid) around the image
        z = zf[v, u]
        fxd, fyd, cxd, cyd = calib.depth_intrinsics
        fx, fy, cx, cy = calib.color_camera((W, H))
        R, t = calib.R, calib.t
        # colour-camera z of the pixel's centre (the value stored)
        zc = R[2, 0] * (u - cxd) * z / fxd + R[2, 1] * (v - cyd) * z / fyd + R[2, 2] * z + t[2]
        lo = np.full((2, v.size), np.inf)
        hi = np.full((2, v.size), -np.inf)
        behind = ~(zc > 0)
        tolf = surface_step * zf
        for su in (-1, 1):      # the 4 corners (a loop over corners, not pixels)
            for sv in (-1, 1):
                # the 4 pixels around corner (u + su/2, v + sv/2): whole-image shifted views
                acc, cnt = np.zeros((Hd, Wd)), np.zeros((Hd, Wd))
                for du, dv in ((0, 0), (su, 0), (0, sv), (su, sv)):
                    nb = zpad[1 + dv:1 + dv + Hd, 1 + du:1 + du + Wd]
                    same = (nb > 0) & (np.abs(nb - zf) <= tolf)
                    acc += np.where(same, nb, 0.0)
                    cnt += same
                zk = acc[v, u] / cnt[v, u]  # a valid pixel always counts itself
                p = np.stack([(u + 0.5 * su - cxd) * zk / fxd, (v + 0.5 * sv - cyd) * zk / fyd, zk])
                q = R @ p + t[:, None]
                with np.errstate(divide="ignore", invalid="ignore"):
                    uv = np.stack([q[0] * fx / q[2] + cx, q[1] * fy / q[2] + cy])
                behind |= ~(q[2] > 0)
                lo, hi = np.minimum(lo, uv), np.maximum(hi, uv)
        ok = ~behind & np.isfinite(lo).all(0) & np.isfinite(hi).all(0)
        first = np.ceil(lo[:, ok]).astype(np.int64)          # first covered column / row
        count = np.ceil(hi[:, ok]).astype(np.int64) - first  # how many (0: the footprint holds no centre)
        zc = zc[ok]
        kx, ky = (int(count[i].max(initial=0)) for i in (0, 1))
        if kx > 0 and ky > 0:
            ox = np.arange(kx)[None, :, None]
            oy = np.arange(ky)[None, None, :]
            cols = first[0][:, None, None] + ox
            rows = first[1][:, None, None] + oy
            keep = (ox < count[0][:, None, None]) & (oy < count[1][:, None, None]) \
                & (cols >= 0) & (cols < W) & (rows >= 0) & (rows < H)
            idx = (rows * W + cols)[keep]
            np.minimum.at(out, idx, np.broadcast_to(zc[:, None, None], keep.shape)[keep])
    out[~np.isfinite(out)] = 0.0
    return out.reshape(H, W).astype(np.float32)


# ---- skeleton.txt ----------------------------------------------------------------------------

def read_skeleton(path: os.PathLike | str) -> tuple[np.ndarray, np.ndarray]:
    """``skeleton.txt`` → (frame numbers (N,) int64, joints N×21×3 float64 mm, F-PHAB order, depth frame).

    One line per frame: the frame number then 63 coordinates; blank lines are ignored.
    """
    p = _need(Path(path), "F-PHAB skeleton file")
    frames, joints = [], []
    with open(p) as fh:
        for ln, line in enumerate(fh, start=1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != 1 + 3 * NUM_JOINTS:
                raise ValueError(f"{p}:{ln}: expected {1 + 3 * NUM_JOINTS} values (frame number, then 21×3 "
                                 f"joint coordinates in mm), got {len(parts)}")
            try:
                vals = np.array([float(x) for x in parts], dtype=np.float64)
            except ValueError as e:
                raise ValueError(f"{p}:{ln}: not a number ({e})") from e
            if not np.all(np.isfinite(vals)):
                raise ValueError(f"{p}:{ln}: non-finite value")
            t = vals[0]
            if t < 0 or t != math.floor(t):
                raise ValueError(f"{p}:{ln}: frame number must be a non-negative integer, got {parts[0]!r}")
            frames.append(int(t))
            joints.append(vals[1:].reshape(NUM_JOINTS, 3))
    if not frames:
        raise ValueError(f"{p}: no skeleton lines")
    f = np.asarray(frames, dtype=np.int64)
    uniq, counts = np.unique(f, return_counts=True)
    if (counts > 1).any():
        raise ValueError(f"{p}: frame {int(uniq[counts > 1][0])} appears more than once")
    return f, np.stack(joints)


def _natural_key(s: str):
    return [int(x) if x.isdigit() else x for x in re.split(r"(\d+)", s)]


def _discover(ann_root: Path) -> list[str]:
    """Every ``Subject_N/<action>/<seq>`` under the annotation root that has a skeleton.txt."""
    seqs = [str(p.parent.relative_to(ann_root).as_posix()) for p in ann_root.glob("*/*/*/skeleton.txt")]
    return sorted(seqs, key=_natural_key)


def _selected(seq: str, selectors: Optional[Sequence[str]]) -> bool:
    """A selector names a sequence or a prefix of whole path components (``Subject_1``, ``Subject_1/put_salt``)."""
    if selectors is None:
        return True
    parts = seq.split("/")
    return any(parts[: len(s)] == s for s in selectors)


class FPHAB(_SampleList):
    """F-PHAB frames from ``root`` (see the module docstring for layout and frame contents).

    ``sequences``: selectors (``"Subject_1/put_salt/1"``, or a prefix of whole path components such as
    ``"Subject_1"`` or ``"Subject_1/put_salt"``); each must match a sequence with annotations. None =
    every sequence under the root that has both a skeleton.txt and its Video_files directory (those
    without video are listed in ``missing_video``). ``color_size``: (width, height) of the returned
    colour image and registered depth. ``calibration``: the rig (default: the dataset's README).
    ``depth_dtype``: 'uint16' (mm, like the other readers) or 'float32' (registered z unrounded).
    """

    def __init__(self, root: os.PathLike | str, sequences: Optional[Iterable[str]] = None,
                 color_size: tuple[int, int] = DEFAULT_COLOR_SIZE,
                 calibration: FPHABCalibration = FPHAB_CALIBRATION, depth_dtype: str = "uint16",
                 annotation_dir: str = ANNOTATION_DIR):
        if depth_dtype not in ("uint16", "float32"):
            raise ValueError(f"depth_dtype must be 'uint16' or 'float32', got {depth_dtype!r}")
        w, h = (int(v) for v in color_size)
        if w < 1 or h < 1:
            raise ValueError(f"color_size must be (width, height) >= 1, got {color_size}")
        self.root = Path(root)
        self.color_size = (w, h)
        self.calibration = calibration
        self.depth_dtype = np.uint16 if depth_dtype == "uint16" else np.float32
        self.cam = calibration.color_camera(self.color_size)
        self.video_root = self.root / VIDEO_DIR
        self.ann_root = self.root / annotation_dir
        if not self.root.is_dir():
            raise FileNotFoundError(f"F-PHAB root not found: {self.root}")
        if not self.ann_root.is_dir():
            raise FileNotFoundError(f"F-PHAB annotation directory not found: {self.ann_root} "
                                    f"(expected {annotation_dir}/Subject_N/<action>/<seq>/skeleton.txt)")
        if not self.video_root.is_dir():
            raise FileNotFoundError(f"F-PHAB video directory not found: {self.video_root} "
                                    f"(expected {VIDEO_DIR}/Subject_N/<action>/<seq>/{{color,depth}}/)")
        available = _discover(self.ann_root)
        selectors = None
        if isinstance(sequences, (str, os.PathLike)):
            sequences = [str(sequences)]
        if sequences is not None:
            sequences = [str(s) for s in sequences]
            selectors = [[p for p in str(s).strip().strip("/").replace("\\", "/").split("/") if p]
                         for s in sequences]
            for s, raw in zip(selectors, sequences):
                if not s or not any(_selected(q, [s]) for q in available):
                    raise FileNotFoundError(f"F-PHAB sequence {raw!r} has no skeleton.txt under {self.ann_root}")
        self.missing_video: list[str] = []
        self.sequences: list[str] = []
        for seq in available:
            if not _selected(seq, selectors):
                continue
            if not (self.video_root / seq).is_dir():
                if selectors is not None:
                    raise FileNotFoundError(f"F-PHAB video directory not found: {self.video_root / seq}")
                self.missing_video.append(seq)
                continue
            self.sequences.append(seq)
        if not self.sequences:
            raise FileNotFoundError(f"no F-PHAB sequence with both {annotation_dir}/<seq>/skeleton.txt and "
                                    f"{VIDEO_DIR}/<seq>/ under {self.root}")
        self.samples: list[dict] = []
        self.num_skipped = 0
        for seq in self.sequences:
            sk = self.ann_root / seq / "skeleton.txt"
            frames, joints = read_skeleton(sk)
            order = np.argsort(frames, kind="stable")
            for k in order:
                if not np.any(joints[k]):  # all zero: no annotation for this frame
                    self.num_skipped += 1
                    continue
                t = int(frames[k])
                vdir = self.video_root / seq
                self.samples.append(dict(sequence=seq, frame=t, skeleton=sk,
                                         color=vdir / "color" / f"color_{t:04d}.jpeg",
                                         depth=vdir / "depth" / f"depth_{t:04d}.png",
                                         joints_depth_mm=joints[k]))

    # ---- order ---------------------------------------------------------------------------
    def sequence_indices(self) -> dict[str, list[int]]:
        """Reader indices of every sequence, frames in time order (the reader's own order)."""
        out: dict[str, list[int]] = {}
        for i, s in enumerate(self.samples):
            out.setdefault(s["sequence"], []).append(i)
        return out

    def iter_sequence(self, sequence: str) -> Iterator[HandFrame]:
        """The frames of one sequence in time order."""
        idx = self.sequence_indices().get(sequence)
        if idx is None:
            raise KeyError(f"sequence {sequence!r} is not in this reader ({len(self.sequences)} sequences)")
        for i in idx:
            yield self[i]

    # ---- frames --------------------------------------------------------------------------
    def sample_info(self, i: int) -> dict:
        """Paths, sequence, frame number and the joints (colour frame, network order, mm) without reading images."""
        s = dict(self.samples[self._index(i)])
        s["joints_mm"] = self.joints_color_mm(i)
        s["handedness"] = LABELLED_HAND
        return s

    def joints_color_mm(self, i: int) -> np.ndarray:
        """21×3 joints of sample ``i``: colour camera frame, network order, mm (float64)."""
        j = self.samples[self._index(i)]["joints_depth_mm"]
        return fphab_to_network(depth_to_color_mm(j, self.calibration))

    def read_color(self, i: int) -> np.ndarray:
        """The colour image of sample ``i`` at ``color_size``, RGB uint8."""
        s = self.samples[self._index(i)]
        rgb = read_color_rgb(s["color"])
        cw, ch = self.calibration.color_size
        if rgb.shape[:2] != (ch, cw):
            raise ValueError(f"{s['color']}: colour image is {rgb.shape[1]}×{rgb.shape[0]}, the calibration is "
                             f"for {cw}×{ch}")
        if (cw, ch) != self.color_size:
            rgb = cv2.resize(rgb, self.color_size, interpolation=cv2.INTER_AREA)
        return np.ascontiguousarray(rgb)

    def read_depth(self, i: int) -> np.ndarray:
        """The raw depth image of sample ``i`` (depth camera, uint16 mm)."""
        s = self.samples[self._index(i)]
        path = _need(Path(s["depth"]), "depth image")
        d = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if d is None:
            raise ValueError(f"cannot decode depth image: {path}")
        if d.ndim != 2 or d.dtype != np.uint16:
            raise ValueError(f"{path}: F-PHAB depth must be a single-channel 16-bit PNG (mm), got "
                             f"{d.dtype} with shape {d.shape}")
        dw, dh = self.calibration.depth_size
        if d.shape != (dh, dw):
            raise ValueError(f"{s['depth']}: depth image is {d.shape[1]}×{d.shape[0]}, the calibration is "
                             f"for {dw}×{dh}")
        return d

    def __getitem__(self, i: int) -> HandFrame:
        i = self._index(i)
        s = self.samples[i]
        color = self.read_color(i)
        reg = register_depth(self.read_depth(i), self.calibration, self.color_size)
        depth = np.rint(reg).astype(np.uint16) if self.depth_dtype == np.uint16 else reg
        joints = self.joints_color_mm(i)
        W, H = self.color_size
        uv = project_mm(joints, self.cam)
        visible = (joints[:, 2] > 0) & (uv[:, 0] >= -0.5) & (uv[:, 0] < W - 0.5) \
            & (uv[:, 1] >= -0.5) & (uv[:, 1] < H - 0.5)
        return make_frame(color, depth, self.cam, joints[None], (LABELLED_HAND,), index=i,
                          stamp=s["frame"] / FPHAB_FPS, visible=visible[None])
