"""DexYCB readers: the authors' COCO-style annotation JSON and the native dex-ycb-toolkit layout.

Both return :class:`~kpfusion_ros.data.synthetic.HandFrame` objects, so code written for
synthetic frames consumes real ones unchanged:

* ``color`` H×W×3 uint8 **RGB** (the files are read with cv2, i.e. BGR, and converted);
* ``depth`` H×W uint16 mm (``aligned_depth_to_color_XXXXXX.png``, 0 = invalid);
* ``cam`` (fx, fy, cx, cy) float32 of the colour camera (depth is aligned to it);
* ``joints_mm`` n×21×3 float32, camera frame (x right, y down, z forward), the network
  joint order (``kpfusion_ros.joints.order_index("dexycb", "network")`` applied);
* ``handedness`` 'left'/'right' per hand;
* fields the datasets do not label: ``visible`` all True, ``instance`` all −1,
  ``joint_radius_mm`` zeros, ``depth_clean`` None; ``seed`` 0, ``index`` the dataset index,
  ``stamp`` frame number / 30 (DexYCB records at 30 Hz).

Frames without a hand (all joints −1) are skipped when the index is built. Missing
files raise :class:`FileNotFoundError` naming the path; malformed annotations raise
:class:`ValueError` naming the file and the field.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, Iterable, Optional, Sequence

import cv2
import numpy as np
from torch.utils.data import Dataset as _Dataset

from ..joints import NUM_JOINTS, order_index
from .synthetic.generator import HandFrame

__all__ = ["DexYCBJson", "DexYCBToolkit", "depth_path_from_color", "read_color_rgb", "read_depth_u16",
           "make_frame", "DEXYCB_FPS"]

DEXYCB_FPS = 30.0
_DEX = order_index("dexycb", "network")


# ---------------------------------------------------------------------------------------
# shared helpers (also used by ho3d.py)
# ---------------------------------------------------------------------------------------


class _SampleList(_Dataset):
    """A reader over an index ``self.samples`` built at construction (one entry per frame).

    Length, Python-style indices (negative from the end) with a clear ``IndexError``, and
    ``sample_info`` (the entry, without reading images) for every reader.
    """

    samples: list

    def __len__(self) -> int:
        return len(self.samples)

    def _index(self, i: int) -> int:
        if not -len(self) <= i < len(self):
            raise IndexError(f"index {i} out of range for {len(self)} frames")
        return i % len(self)

    def sample_info(self, i: int) -> dict:
        """Paths, intrinsics, side and joints (mm, our order) of sample ``i`` without reading images."""
        return dict(self.samples[i])

def _need(path: Path, what: str) -> Path:
    if not path.is_file():
        raise FileNotFoundError(f"{what} not found: {path}")
    return path


def read_color_rgb(path: os.PathLike | str) -> np.ndarray:
    """Read a colour image with cv2 (BGR) and return H×W×3 uint8 RGB."""
    p = _need(Path(path), "colour image")
    img = cv2.imread(str(p), cv2.IMREAD_COLOR)
    if img is None:
        raise ValueError(f"cannot decode colour image: {p}")
    return np.ascontiguousarray(img[:, :, ::-1])


def read_depth_u16(path: os.PathLike | str) -> np.ndarray:
    """Read a single-channel uint16 depth PNG in mm (``cv2.IMREAD_ANYDEPTH``)."""
    p = _need(Path(path), "depth image")
    d = cv2.imread(str(p), cv2.IMREAD_ANYDEPTH)
    if d is None:
        raise ValueError(f"cannot decode depth image: {p}")
    if d.ndim != 2:
        raise ValueError(f"depth image {p} has shape {d.shape}, expected H×W")
    return d.astype(np.uint16, copy=False)


def depth_path_from_color(color_path: os.PathLike | str) -> Path:
    """DexYCB: ``.../color_XXXXXX.jpg`` → ``.../aligned_depth_to_color_XXXXXX.png`` (reference §3)."""
    p = Path(color_path)
    name = p.name.replace("color_", "aligned_depth_to_color_", 1)
    name = re.sub(r"\.jpe?g$", ".png", name, flags=re.IGNORECASE)
    return p.with_name(name)


def _frame_number(path: Path) -> int:
    m = re.search(r"(\d+)(?=\.[^.]+$)", path.name)
    return int(m.group(1)) if m else 0


def make_frame(color: np.ndarray, depth: np.ndarray, cam: Sequence[float], joints_mm: np.ndarray,
               handedness: Sequence[str], index: int = 0, stamp: float = 0.0,
               visible: Optional[np.ndarray] = None) -> HandFrame:
    """Wrap a real frame as a :class:`HandFrame` (unlabelled fields get neutral values)."""
    j = np.asarray(joints_mm, dtype=np.float32).reshape(-1, NUM_JOINTS, 3)
    n = j.shape[0]
    if len(handedness) != n:
        raise ValueError(f"{n} hands but {len(handedness)} handedness labels")
    for h in handedness:
        if h not in ("left", "right"):
            raise ValueError(f"handedness must be 'left' or 'right', got {h!r}")
    H, W = depth.shape[:2]
    if color.shape[:2] != (H, W):
        raise ValueError(f"colour {color.shape[:2]} and depth {(H, W)} sizes differ")
    vis = np.ones((n, NUM_JOINTS), dtype=bool) if visible is None else np.asarray(visible, dtype=bool)
    return HandFrame(
        color=color, depth=depth, cam=np.asarray(cam, dtype=np.float32).reshape(4),
        joints_mm=j, handedness=tuple(handedness), visible=vis,
        instance=np.full((H, W), -1, dtype=np.int8),
        joint_radius_mm=np.zeros((n, NUM_JOINTS), dtype=np.float32),
        seed=0, index=int(index), stamp=float(stamp), depth_clean=None)


def _field(d: Any, key: str, where: str) -> Any:
    if not isinstance(d, dict) or key not in d:
        raise ValueError(f"{where}: missing field '{key}'")
    return d[key]


def _no_hand(j: np.ndarray) -> bool:
    """DexYCB marks a frame without a hand by all joints = −1 (reference §3)."""
    return bool(np.all(j == -1))


# ---------------------------------------------------------------------------------------
# authors' JSON
# ---------------------------------------------------------------------------------------

class DexYCBJson(_SampleList):
    """DexYCB via the authors' annotation file ``root/annotations/DEX_YCB_{setup}_{split}_data.json``.

    COCO-style: ``images`` (``id``, ``color_file_name`` relative to ``root``, ``height``,
    ``width``) and ``annotations`` (``image_id``, ``joints_coord_cam`` 21×3 **mm** in DexYCB
    order, ``cam_param`` {``focal``: (fx, fy), ``princpt``: (cx, cy)}, ``hand_type``).
    Annotations without ``image_id`` are paired with ``images`` by position. Depth is read
    from the colour path (``color_``→``aligned_depth_to_color_``, ``jpg``→``png``).
    ``annotation_file`` overrides the default JSON path.
    """

    def __init__(self, root: os.PathLike | str, setup: str = "s0", split: str = "test",
                 annotation_file: Optional[os.PathLike | str] = None):
        self.root = Path(root)
        self.setup, self.split = setup, split
        self.annotation_file = Path(annotation_file) if annotation_file is not None else \
            self.root / "annotations" / f"DEX_YCB_{setup}_{split}_data.json"
        _need(self.annotation_file, "DexYCB annotation file")
        with open(self.annotation_file) as fh:
            try:
                db = json.load(fh)
            except json.JSONDecodeError as e:
                raise ValueError(f"{self.annotation_file}: not valid JSON ({e})") from e
        src = str(self.annotation_file)
        images = _field(db, "images", src)
        anns = _field(db, "annotations", src)
        if not isinstance(images, list) or not isinstance(anns, list):
            raise ValueError(f"{src}: 'images' and 'annotations' must be lists")
        by_id = {}
        for k, img in enumerate(images):
            if isinstance(img, dict) and "id" in img:
                by_id[img["id"]] = img
        self.samples: list[dict] = []
        self.num_skipped = 0
        for k, ann in enumerate(anns):
            where = f"{src}: annotations[{k}]"
            if not isinstance(ann, dict):
                raise ValueError(f"{where}: not an object")
            if "image_id" in ann:
                if ann["image_id"] not in by_id:
                    raise ValueError(f"{where}: field 'image_id'={ann['image_id']!r} matches no image")
                img = by_id[ann["image_id"]]
            else:
                if k >= len(images):
                    raise ValueError(f"{where}: missing field 'image_id' and no image at that position")
                img = images[k]
            iwhere = f"{src}: image of annotations[{k}]"
            name = img.get("color_file_name", img.get("file_name")) if isinstance(img, dict) else None
            if not isinstance(name, str):
                raise ValueError(f"{iwhere}: missing field 'color_file_name'")
            try:
                j = np.asarray(_field(ann, "joints_coord_cam", where), dtype=np.float64)
            except (TypeError, ValueError) as e:
                if "missing field" in str(e):
                    raise
                raise ValueError(f"{where}: field 'joints_coord_cam' is not numeric") from e
            if j.size != NUM_JOINTS * 3:
                raise ValueError(f"{where}: field 'joints_coord_cam' has {j.size} values, expected 21×3")
            j = j.reshape(NUM_JOINTS, 3)
            if _no_hand(j):
                self.num_skipped += 1
                continue
            cp = _field(ann, "cam_param", where)
            try:
                fx, fy = (float(v) for v in _field(cp, "focal", where + ".cam_param"))
                cx, cy = (float(v) for v in _field(cp, "princpt", where + ".cam_param"))
            except (TypeError, ValueError) as e:
                if "missing field" in str(e):
                    raise
                raise ValueError(f"{where}: fields 'cam_param.focal'/'cam_param.princpt' must be 2 numbers") from e
            side = _field(ann, "hand_type", where)
            if side not in ("left", "right"):
                raise ValueError(f"{where}: field 'hand_type' must be 'left' or 'right', got {side!r}")
            color = Path(name) if os.path.isabs(name) else self.root / name
            dname = img.get("depth_file_name")
            depth = (Path(dname) if os.path.isabs(dname) else self.root / dname) if isinstance(dname, str) \
                else depth_path_from_color(color)
            self.samples.append(dict(color=color, depth=depth, cam=(fx, fy, cx, cy),
                                     joints_mm=j[_DEX], hand_type=side,
                                     size=(img.get("height"), img.get("width"))))

    def __getitem__(self, i: int) -> HandFrame:
        i = self._index(i)
        s = self.samples[i]
        color = read_color_rgb(s["color"])
        depth = read_depth_u16(s["depth"])
        h, w = s["size"]
        if h is not None and w is not None and color.shape[:2] != (int(h), int(w)):
            raise ValueError(f"{s['color']}: image is {color.shape[1]}×{color.shape[0]}, "
                             f"annotation says width={w} height={h}")
        return make_frame(color, depth, s["cam"], s["joints_mm"][None], (s["hand_type"],), index=i,
                          stamp=_frame_number(Path(s["color"])) / DEXYCB_FPS)


# ---------------------------------------------------------------------------------------
# native dex-ycb-toolkit layout
# ---------------------------------------------------------------------------------------

def _load_yaml(path: Path) -> Any:
    import yaml

    _need(path, "YAML file")
    with open(path) as fh:
        try:
            return yaml.safe_load(fh)
        except yaml.YAMLError as e:
            raise ValueError(f"{path}: not valid YAML ({e})") from e


def _matches(name: str, wanted: Optional[Iterable[str]]) -> bool:
    if wanted is None:
        return True
    return any(name == w or name.endswith(str(w)) for w in wanted)


class DexYCBToolkit(_SampleList):
    """DexYCB in its native layout (as extracted for dex-ycb-toolkit).

    ``root/<subject>/<sequence>/meta.yml`` (``mano_sides: [left|right]``),
    ``root/<subject>/<sequence>/<serial>/{color_XXXXXX.jpg, aligned_depth_to_color_XXXXXX.png,
    labels_XXXXXX.npz}`` (``joint_3d`` 1×21×3 **metres**, DexYCB order, all −1 = no hand) and
    ``root/calibration/intrinsics/<serial>_640x480.yml`` (``color: {fx, fy, ppx, ppy}``).

    ``serials``/``subjects`` restrict the cameras/subjects (a directory matches when its name
    equals or ends with an entry, e.g. ``"subject-01"``). Building the index reads every
    label file's ``joint_3d`` (to skip frames without a hand).
    """

    def __init__(self, root: os.PathLike | str, serials: Optional[Sequence[str]] = None,
                 subjects: Optional[Sequence[str]] = None):
        self.root = Path(root)
        if not self.root.is_dir():
            raise FileNotFoundError(f"DexYCB root not found: {self.root}")
        self.serials = None if serials is None else [str(s) for s in serials]
        self.subjects = None if subjects is None else [str(s) for s in subjects]
        self._intr: dict[str, tuple[float, float, float, float]] = {}
        self.samples: list[dict] = []
        self.num_skipped = 0
        for subj in sorted(p for p in self.root.iterdir() if p.is_dir() and p.name != "calibration"):
            if not _matches(subj.name, self.subjects):
                continue
            for seq in sorted(p for p in subj.iterdir() if p.is_dir()):
                meta_path = seq / "meta.yml"
                if not meta_path.is_file():
                    continue
                meta = _load_yaml(meta_path)
                sides = _field(meta, "mano_sides", str(meta_path))
                if isinstance(sides, str):
                    sides = [sides]
                if not isinstance(sides, list) or not sides or any(s not in ("left", "right") for s in sides):
                    raise ValueError(f"{meta_path}: field 'mano_sides' must be a list of 'left'/'right', "
                                     f"got {sides!r}")
                for cam_dir in sorted(p for p in seq.iterdir() if p.is_dir()):
                    if self.serials is not None and cam_dir.name not in self.serials:
                        continue
                    for lab in sorted(cam_dir.glob("labels_*.npz")):
                        j3d = self._joints_m(lab)
                        keep = [h for h in range(j3d.shape[0]) if not _no_hand(j3d[h])]
                        if not keep:
                            self.num_skipped += 1
                            continue
                        if len(sides) < j3d.shape[0]:
                            raise ValueError(f"{meta_path}: field 'mano_sides' lists {len(sides)} hands, "
                                             f"{lab} has {j3d.shape[0]}")
                        num = lab.stem[len("labels_"):]
                        self.samples.append(dict(
                            color=cam_dir / f"color_{num}.jpg",
                            depth=cam_dir / f"aligned_depth_to_color_{num}.png",
                            label=lab, serial=cam_dir.name, subject=subj.name, sequence=seq.name,
                            frame=int(num) if num.isdigit() else 0,
                            joints_mm=(j3d[keep] * 1000.0)[:, _DEX],
                            handedness=tuple(sides[h] for h in keep)))

    @staticmethod
    def _joints_m(lab: Path) -> np.ndarray:
        try:
            z = np.load(lab)
        except Exception as e:  # corrupt zip, not an npz, pickled object arrays...
            raise ValueError(f"{lab}: cannot read label file ({e})") from e
        with z:
            if "joint_3d" not in z.files:
                raise ValueError(f"{lab}: missing field 'joint_3d'")
            j = np.asarray(z["joint_3d"], dtype=np.float64)
        if j.size % (NUM_JOINTS * 3) or j.size == 0:
            raise ValueError(f"{lab}: field 'joint_3d' has shape {j.shape}, expected 1×21×3")
        return j.reshape(-1, NUM_JOINTS, 3)

    def intrinsics(self, serial: str) -> tuple[float, float, float, float]:
        """(fx, fy, cx, cy) of a camera's colour stream, from its calibration file."""
        if serial not in self._intr:
            path = self.root / "calibration" / "intrinsics" / f"{serial}_640x480.yml"
            y = _load_yaml(path)
            c = _field(y, "color", str(path))
            try:
                self._intr[serial] = tuple(float(_field(c, k, f"{path}: color")) for k in ("fx", "fy", "ppx", "ppy"))
            except (TypeError, ValueError) as e:
                if "missing field" in str(e):
                    raise
                raise ValueError(f"{path}: fields 'color.fx/fy/ppx/ppy' must be numbers") from e
        return self._intr[serial]

    def __getitem__(self, i: int) -> HandFrame:
        i = self._index(i)
        s = self.samples[i]
        cam = self.intrinsics(s["serial"])
        color = read_color_rgb(s["color"])
        depth = read_depth_u16(s["depth"])
        return make_frame(color, depth, cam, s["joints_mm"], s["handedness"], index=i,
                          stamp=s["frame"] / DEXYCB_FPS)
