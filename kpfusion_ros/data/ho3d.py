"""HO-3D (v2 / v3) reader returning :class:`~kpfusion_ros.data.synthetic.HandFrame` objects.

Layout: ``root/<split>/<seq>/rgb/XXXX.jpg`` (v3; v2 uses ``.png``), ``depth/XXXX.png``
(depth packed into two 8-bit channels, see :func:`decode_depth`) and ``meta/XXXX.pkl``
(pickle dict: ``handJoints3D`` 21×3 metres, OpenGL camera frame, HO-3D joint order —
a single root joint (3,) or None in the evaluation split —, ``camMat`` 3×3 K). When
``root/<split>.txt`` exists (lines ``seq/XXXX``) it defines the frames, else every
``meta/*.pkl`` of every sequence does.

What the frames contain (same conventions as the synthetic ones, see dexycb.py):

* ``color`` RGB uint8 (read with cv2 as BGR and converted);
* ``depth`` uint16 mm, rounded from the decoded depth (``depth_dtype="float32"`` keeps the
  sub-millimetre values: one code is 0.125 mm);
* ``joints_mm`` 1×21×3 float32 in mm, OpenCV axes (OpenGL y and z negated) and the network
  joint order (``kpfusion_ros.joints.order_index("ho3d", "network")``); ``handedness`` ('right',) — HO-3D
  hands are right hands;
* ``visible`` True where the joint is known, ``instance`` all −1, ``joint_radius_mm`` zeros.

Unlabelled frames (``handJoints3D`` None or a root-only (3,) array) are **skipped** by
default. With ``keep_unlabelled=True`` they are returned with NaN joints (and ``visible``
False) except the wrist, which holds the root joint when the file gives one.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any, Optional

import cv2
import numpy as np

from ..camera import CameraIntrinsics
from ..joints import NUM_JOINTS, order_index
from .dexycb import _SampleList, _field, _need, make_frame, read_color_rgb
from .synthetic.generator import HandFrame

__all__ = ["HO3D", "decode_depth", "encode_depth", "load_meta", "ho3d_to_ours_mm", "ours_mm_to_ho3d",
           "HO3D_DEPTH_SCALE_M", "HO3D_FPS"]

#: Metres per depth code (SR300), from the HO-3D toolkit and the authors' loader.
HO3D_DEPTH_SCALE_M = 0.00012498664727900177
HO3D_FPS = 30.0
#: cv2 (BGR) channel holding the low byte / the high byte of the depth code.
LOW_CHANNEL, HIGH_CHANNEL = 2, 1

_H2O = order_index("ho3d", "network")
_O2H = order_index("network", "ho3d")
_GL = np.array([1.0, -1.0, -1.0])


def decode_depth(png_bgr: np.ndarray, dtype: Any = np.float32) -> np.ndarray:
    """HO-3D packed depth (the PNG as read by ``cv2.imread``, H×W×3 BGR uint8) → H×W mm.

    mm = (low + high·256) · 0.00012498664727900177 · 1000 with ``low`` = channel 2 and
    ``high`` = channel 1 of the cv2 array, exactly as the HO-3D toolkit's ``read_depth_img``
    and the authors' ``read_depth_img`` (``depth_img[:, :, 2] + depth_img[:, :, 1] * 256``);
    0 = invalid. ``dtype`` float (exact) or uint16 (rounded to whole mm).
    """
    a = np.asarray(png_bgr)
    if a.ndim != 3 or a.shape[2] < 3:
        raise ValueError(f"packed HO-3D depth must be H×W×3 (cv2 BGR), got shape {a.shape}")
    code = a[:, :, LOW_CHANNEL].astype(np.float64) + a[:, :, HIGH_CHANNEL].astype(np.float64) * 256.0
    mm = code * (HO3D_DEPTH_SCALE_M * 1000.0)
    if np.issubdtype(np.dtype(dtype), np.integer):
        return np.rint(mm).astype(dtype)
    return mm.astype(dtype)


def encode_depth(depth_mm: np.ndarray) -> np.ndarray:
    """Inverse of :func:`decode_depth`: H×W mm → H×W×3 uint8 BGR, as the HO-3D toolkit writes it."""
    code = np.rint(np.asarray(depth_mm, dtype=np.float64) / (HO3D_DEPTH_SCALE_M * 1000.0))
    code = np.clip(np.nan_to_num(code), 0, 65535).astype(np.uint32)
    out = np.zeros(code.shape + (3,), dtype=np.uint8)
    out[:, :, HIGH_CHANNEL] = code >> 8
    out[:, :, LOW_CHANNEL] = code & 0xFF
    return out


def load_meta(path: os.PathLike | str) -> dict:
    """Read a HO-3D meta pickle (v2 files are Python-2 pickles: latin1)."""
    p = _need(Path(path), "HO-3D meta file")
    with open(p, "rb") as fh:
        try:
            meta = pickle.load(fh, encoding="latin1")
        except Exception as e:
            raise ValueError(f"{p}: cannot unpickle HO-3D meta ({e})") from e
    if not isinstance(meta, dict):
        raise ValueError(f"{p}: HO-3D meta must be a dict, got {type(meta).__name__}")
    return meta


def ho3d_to_ours_mm(joints_m_gl: np.ndarray) -> np.ndarray:
    """21×3 metres, OpenGL, HO-3D order → 21×3 mm, OpenCV axes, our order."""
    j = np.asarray(joints_m_gl, dtype=np.float64).reshape(NUM_JOINTS, 3)
    return (j * _GL * 1000.0)[_H2O]


def ours_mm_to_ho3d(joints_mm: np.ndarray) -> np.ndarray:
    """Inverse of :func:`ho3d_to_ours_mm` (what HO-3D's ``pred.json`` expects, per hand)."""
    j = np.asarray(joints_mm, dtype=np.float64).reshape(NUM_JOINTS, 3)
    return j[_O2H] * _GL / 1000.0


class HO3D(_SampleList):
    """HO-3D frames from ``root/<split>`` (``split`` 'train' or 'evaluation'; ``version`` 'v2'/'v3').

    ``depth_dtype``: 'uint16' (mm, like synthetic frames) or 'float32' (exact decoded mm).
    ``keep_unlabelled``: see the module docstring. Building the index reads every meta file
    (unless ``keep_unlabelled``).
    """

    def __init__(self, root: os.PathLike | str, split: str = "train", version: str = "v3",
                 keep_unlabelled: bool = False, depth_dtype: str = "uint16"):
        if version not in ("v2", "v3"):
            raise ValueError(f"version must be 'v2' or 'v3', got {version!r}")
        if depth_dtype not in ("uint16", "float32"):
            raise ValueError(f"depth_dtype must be 'uint16' or 'float32', got {depth_dtype!r}")
        self.root = Path(root)
        self.split, self.version = split, version
        self.keep_unlabelled = keep_unlabelled
        self.depth_dtype = np.uint16 if depth_dtype == "uint16" else np.float32
        self.split_dir = self.root / split
        if not self.split_dir.is_dir():
            raise FileNotFoundError(f"HO-3D split directory not found: {self.split_dir}")
        self.rgb_ext = ".jpg" if version == "v3" else ".png"
        listing = self.root / f"{split}.txt"
        ids: list[tuple[str, str]] = []
        if listing.is_file():
            for ln, line in enumerate(listing.read_text().splitlines()):
                line = line.strip()
                if not line:
                    continue
                parts = line.replace("\\", "/").split("/")
                if len(parts) != 2:
                    raise ValueError(f"{listing}:{ln + 1}: expected 'seq/frame', got {line!r}")
                ids.append((parts[0], parts[1]))
        else:
            for seq in sorted(p for p in self.split_dir.iterdir() if p.is_dir()):
                ids.extend((seq.name, m.stem) for m in sorted((seq / "meta").glob("*.pkl")))
        self.samples: list[tuple[str, str]] = []
        self.num_skipped = 0
        for seq, fid in ids:
            if not keep_unlabelled and self._hand_joints(self._meta_path(seq, fid)) is None:
                self.num_skipped += 1
                continue
            self.samples.append((seq, fid))

    # ---- paths ------------------------------------------------------------------------
    def _meta_path(self, seq: str, fid: str) -> Path:
        return self.split_dir / seq / "meta" / f"{fid}.pkl"

    def _rgb_path(self, seq: str, fid: str) -> Path:
        p = self.split_dir / seq / "rgb" / f"{fid}{self.rgb_ext}"
        if not p.is_file():  # tolerate the other version's extension
            alt = p.with_suffix(".png" if self.rgb_ext == ".jpg" else ".jpg")
            if alt.is_file():
                return alt
        return p

    def _depth_path(self, seq: str, fid: str) -> Path:
        return self.split_dir / seq / "depth" / f"{fid}.png"

    @staticmethod
    def _hand_joints(meta_path: Path, meta: Optional[dict] = None) -> Optional[np.ndarray]:
        """handJoints3D as a 21×3 array, or None when the frame has no full annotation."""
        meta = load_meta(meta_path) if meta is None else meta
        j = meta.get("handJoints3D")
        if j is None:
            return None
        j = np.asarray(j, dtype=np.float64)
        if j.shape == (3,) or j.size == 3:
            return None
        if j.size != NUM_JOINTS * 3:
            raise ValueError(f"{meta_path}: field 'handJoints3D' has shape {j.shape}, expected 21×3 or 3")
        return j.reshape(NUM_JOINTS, 3)

    # ---- Dataset ----------------------------------------------------------------------
    def sample_info(self, i: int) -> dict:
        seq, fid = self.samples[i]
        return dict(sequence=seq, frame=fid, color=self._rgb_path(seq, fid), depth=self._depth_path(seq, fid),
                    meta=self._meta_path(seq, fid))

    def __getitem__(self, i: int) -> HandFrame:
        i = self._index(i)
        seq, fid = self.samples[i]
        mpath = self._meta_path(seq, fid)
        meta = load_meta(mpath)
        K = _field(meta, "camMat", str(mpath))
        try:
            cam = CameraIntrinsics.of(np.asarray(K, dtype=np.float64).reshape(3, 3)).as_tuple()
        except (TypeError, ValueError) as e:
            raise ValueError(f"{mpath}: field 'camMat' must be a 3×3 camera matrix ({e})") from e
        j = self._hand_joints(mpath, meta)
        if j is not None:
            joints = ho3d_to_ours_mm(j)
        else:
            joints = np.full((NUM_JOINTS, 3), np.nan)
            root = meta.get("handJoints3D")
            if root is not None and np.asarray(root).size == 3:
                joints[0] = np.asarray(root, dtype=np.float64).reshape(3) * _GL * 1000.0
        visible = np.isfinite(joints).all(-1)[None]
        color = read_color_rgb(self._rgb_path(seq, fid))
        dpath = _need(self._depth_path(seq, fid), "depth image")
        packed = cv2.imread(str(dpath), cv2.IMREAD_COLOR)
        if packed is None:
            raise ValueError(f"cannot decode depth image: {dpath}")
        depth = decode_depth(packed, self.depth_dtype)
        stamp = int(fid) / HO3D_FPS if fid.isdigit() else 0.0
        return make_frame(color, depth, cam, joints[None], ("right",), index=i, stamp=stamp, visible=visible)
