"""On-disk evaluation splits: writer and reader.

Layout of a split directory::

    DIR/meta.json                 seed, num, width, height, num_hands, config, format version
    DIR/color/000000.png          8-bit colour (PNG stores RGB; read back as RGB)
    DIR/depth/000000.png          16-bit depth, mm, 0 invalid (cv2.IMREAD_ANYDEPTH)
    DIR/instance/000000.png       8-bit instance map + 1 (0 = background, 1.. = hand id + 1, 3 = object)
    DIR/labels.npz                cam (N×4), joints_mm (N×2×21×3, NaN for absent hands),
                                  num_hands (N), is_right (N×2), visible (N×2×21),
                                  joint_radius_mm (N×2×21), index (N)

The same frames also go to DIR/labels.json (per frame: file names, cam, joints,
handedness, visibility) for people and other tools; the reader uses the NPZ.
Writing is deterministic: frames are :func:`render_frame` (seed, i), i < num.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np

from ...joints import NUM_JOINTS
from .generator import HandFrame, SyntheticConfig, render_batch

FORMAT_VERSION = 1


def _name(i: int) -> str:
    return f"{i:06d}.png"


def write_split(out: str | Path, num: int, seed: int, config: SyntheticConfig | None = None,
                device="cpu", batch_size: int = 4, progress: bool = False) -> Path:
    """Render frames 0..num−1 of stream ``seed`` into ``out`` (see module docstring)."""
    import cv2

    config = config or SyntheticConfig()
    out = Path(out)
    for sub in ("color", "depth", "instance"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    N = num
    cam = np.zeros((N, 4), np.float32)
    joints = np.full((N, 2, NUM_JOINTS, 3), np.nan, np.float32)
    nh = np.zeros(N, np.int8)
    right = np.zeros((N, 2), bool)
    vis = np.zeros((N, 2, NUM_JOINTS), bool)
    jr = np.zeros((N, 2, NUM_JOINTS), np.float32)
    records = []
    it = range(0, N, batch_size)
    if progress:
        from tqdm import tqdm

        it = tqdm(it, desc=f"split {out.name}", unit="batch")
    for s in it:
        for f in render_batch(seed, range(s, min(s + batch_size, N)), config, device).frames():
            i = f.index
            cv2.imwrite(str(out / "color" / _name(i)), f.color[..., ::-1])
            cv2.imwrite(str(out / "depth" / _name(i)), f.depth.astype(np.uint16))
            cv2.imwrite(str(out / "instance" / _name(i)), (f.instance.astype(np.int16) + 1).astype(np.uint8))
            n = f.num_hands
            cam[i], nh[i] = f.cam, n
            joints[i, :n], right[i, :n], vis[i, :n], jr[i, :n] = f.joints_mm, f.is_right, f.visible, f.joint_radius_mm
            records.append({
                "index": i, "color": f"color/{_name(i)}", "depth": f"depth/{_name(i)}",
                "instance": f"instance/{_name(i)}", "cam": f.cam.tolist(),
                "joints_mm": f.joints_mm.round(3).tolist(), "handedness": list(f.handedness),
                "visible": f.visible.tolist(),
            })
    np.savez_compressed(out / "labels.npz", cam=cam, joints_mm=joints, num_hands=nh, is_right=right,
                        visible=vis, joint_radius_mm=jr, index=np.arange(N))
    (out / "labels.json").write_text(json.dumps({"frames": records}))
    meta = {"format": "kpfusion-synthetic", "version": FORMAT_VERSION, "seed": seed, "num": N,
            "width": config.width, "height": config.height, "config": _jsonable(asdict(config))}
    (out / "meta.json").write_text(json.dumps(meta, indent=1))
    return out


def _jsonable(x):
    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    return x


class SyntheticSplit:
    """Reader of a split written by :func:`write_split`; items are :class:`HandFrame`."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.meta = json.loads((self.root / "meta.json").read_text())
        with np.load(self.root / "labels.npz") as z:
            self.labels = {k: z[k] for k in z.files}

    def __len__(self) -> int:
        return int(self.meta["num"])

    def __getitem__(self, i: int) -> HandFrame:
        import cv2

        if not 0 <= i < len(self):
            raise IndexError(i)
        L = self.labels
        n = int(L["num_hands"][i])
        color = cv2.imread(str(self.root / "color" / _name(i)), cv2.IMREAD_COLOR)[..., ::-1].copy()
        depth = cv2.imread(str(self.root / "depth" / _name(i)), cv2.IMREAD_ANYDEPTH)
        inst = cv2.imread(str(self.root / "instance" / _name(i)), cv2.IMREAD_GRAYSCALE).astype(np.int16) - 1
        return HandFrame(
            color=color, depth=depth.astype(np.uint16), cam=L["cam"][i].copy(),
            joints_mm=L["joints_mm"][i, :n].copy(),
            handedness=tuple("right" if r else "left" for r in L["is_right"][i, :n]),
            visible=L["visible"][i, :n].copy(), instance=inst.astype(np.int8),
            joint_radius_mm=L["joint_radius_mm"][i, :n].copy(), seed=int(self.meta["seed"]), index=i,
        )

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]
