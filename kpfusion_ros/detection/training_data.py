"""Synthetic full frames for training and checking the hand verifier (:mod:`.verifier`).

The verifier learns on what the localiser sees at run time: whole depth frames of the renderer
(:mod:`kpfusion_ros.data.synthetic`, every view: free, egocentric and table-top; one, two or no
hands; left and right; sensor defects; table clutter). Frames are rendered in shards of
:data:`SHARD_FRAMES` consecutive indices of one stream seed and kept as compressed ``.npz`` files
(depth uint16 mm, camera, GT joint means and sides, instance masks) outside the repository
(``~/.cache/kpfusion_ros/verifier/``): a shard is a pure function of (seed, shard index), so
interrupted runs resume and anyone can re-create the data from the command in the weights'
sidecar.

Per shard the image size and hand count follow :func:`shard_setting` (mostly 320×240, every sixth
shard 640×360; every tenth shard without hands, pure negatives).
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Iterable

import numpy as np
import torch

SHARD_FRAMES = 16
DEFAULT_DATA_DIR = Path(os.path.expanduser("~/.cache/kpfusion_ros/verifier"))


def shard_setting(shard: int) -> dict:
    """Image size and hand count of shard ``shard``: {'width', 'height', 'num_hands' (None = 1 or 2)}."""
    wide = shard % 6 == 5
    return {"width": 640 if wide else 320, "height": 360 if wide else 240,
            "num_hands": 0 if shard % 10 == 9 else None}


def synthetic_config(shard: int):
    """The :class:`~kpfusion_ros.data.synthetic.SyntheticConfig` of shard ``shard`` (default scenes and sensor)."""
    from kpfusion_ros.data.synthetic import SceneConfig, SyntheticConfig

    s = shard_setting(shard)
    return SyntheticConfig(width=s["width"], height=s["height"],
                           scene=replace(SceneConfig(), num_hands=s["num_hands"]))


def render_shard(seed: int, shard: int) -> dict:
    """Frames ``shard·16 … shard·16+15`` of stream ``seed`` as numpy arrays (see module docstring)."""
    from kpfusion_ros.data.synthetic import render_batch

    cfg = synthetic_config(shard)
    idx = range(shard * SHARD_FRAMES, (shard + 1) * SHARD_FRAMES)
    fb = render_batch(seed, idx, cfg)
    joints = fb.joints_mm.numpy().astype(np.float32)
    return {
        "depth": fb.depth.numpy().astype(np.uint16),
        "cam": fb.cam.numpy().astype(np.float64),
        "joints_mm": joints,
        "centre_mm": joints.mean(axis=2),
        "hand_valid": fb.hand_valid.numpy(),
        "is_right": fb.is_right.numpy(),
        "instance": fb.instance.numpy().astype(np.int8),
        "seed": np.int64(seed), "shard": np.int64(shard),
    }


def shard_path(root: Path, seed: int, shard: int) -> Path:
    return Path(root) / f"seed{seed}" / f"shard{shard:05d}.npz"


def write_shards(root: Path, seed: int, shards: Iterable[int], progress: bool = True) -> list[Path]:
    """Render the missing shards of ``seed`` under ``root`` (existing ones are kept); returns all paths."""
    shards = list(shards)
    paths = [shard_path(root, seed, s) for s in shards]
    todo = [(s, p) for s, p in zip(shards, paths) if not p.is_file()]
    it = todo
    if progress and todo:
        from tqdm import tqdm
        it = tqdm(todo, desc=f"render seed {seed}", unit="shard", dynamic_ncols=True)
    for s, p in it:
        p.parent.mkdir(parents=True, exist_ok=True)
        data = render_shard(seed, s)
        tmp = p.with_suffix(".tmp.npz")
        np.savez_compressed(tmp, **data)
        os.replace(tmp, p)
    return paths


def load_shards(paths: Iterable[Path]) -> list[dict]:
    """The frames of the shards at ``paths`` as a list of per-frame dicts (depth, cam, centres, sides, instance)."""
    frames = []
    for p in paths:
        with np.load(p) as z:
            d = {k: z[k] for k in z.files}
        for b in range(d["depth"].shape[0]):
            ok = d["hand_valid"][b]
            frames.append({"depth": d["depth"][b], "cam": d["cam"][b], "centre_mm": d["centre_mm"][b][ok],
                           "joints_mm": d["joints_mm"][b][ok], "is_right": d["is_right"][b][ok],
                           "instance": d["instance"][b], "seed": int(d["seed"]),
                           "index": int(d["shard"]) * SHARD_FRAMES + b})
    return frames


if __name__ == "__main__":  # background rendering: python -m kpfusion_ros.detection.training_data SEED FIRST LAST
    import sys

    torch.set_num_threads(1)
    seed, first, last = (int(a) for a in sys.argv[1:4])
    root = Path(sys.argv[4]) if len(sys.argv) > 4 else DEFAULT_DATA_DIR
    write_shards(root, seed, range(first, last))
