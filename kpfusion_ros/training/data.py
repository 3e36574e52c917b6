"""Synthetic frames → per-hand GT-centred crops (the paper's protocol), batched on the device.

A training step renders ``frames`` new frames of stream ``seed`` (frame indices advance with
the step, so the data stream is a pure function of (seed, step) and resumes exactly), crops
every valid hand at the mean of its 21 GT joints (reference §3 "Crop center"), left hands
mirrored, with one augmentation per hand (:mod:`.augment`), and returns one
:class:`HandBatch` whose tensors live on the device. Evaluation uses the same path without
augmentation (``augment=False``) on a disjoint seed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np
import torch

from ..data.synthetic import SyntheticConfig, render_batch
from ..preprocessing import CropBatch, CropConfig, crop_hands, labels_from_joints
from .augment import rotate_crops, sample_modes, sample_params


@dataclass
class DataConfig:
    seed: int = 0                 # synthetic stream seed (training); evaluation uses another
    width: int = 640
    height: int = 480
    frames_per_step: int = 24     # frames per batch (≈1.3 hands per frame)
    pool: int = 0                 # >0: keep a window of this many rendered frames on the device ...
    refresh: int = 4              # ... and render only this many new frames per step
    cube_mm: float = 250.0
    augment: bool = True
    clean: bool = False           # no sensor defects

    def synthetic(self) -> SyntheticConfig:
        return SyntheticConfig(width=self.width, height=self.height, clean=self.clean)


@dataclass
class HandBatch:
    """K hand crops (device tensors) + their labels.

    crops: a :class:`CropBatch` (rgb, depth, pcl, center, M, cube, cam, mirrored, …);
    xyz_gt / uvd_gt K×21×3 labels in the crop's (mirrored) frame; joints_mm K×21×3 GT in the
    real camera frame; is_right K; frame K (index of the frame in the rendered batch);
    modes: augmentation per hand.
    """

    crops: CropBatch
    xyz_gt: torch.Tensor
    uvd_gt: torch.Tensor
    joints_mm: torch.Tensor
    is_right: torch.Tensor
    frame: torch.Tensor
    modes: list = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.xyz_gt.shape[0])

    def inputs(self):
        return self.crops.network_inputs()


def _cat_crops(parts: list[CropBatch]) -> CropBatch:
    names = ["rgb", "depth", "pcl", "center", "M", "cube", "cam", "mirrored", "bounds", "z_range", "valid",
             "num_foreground"]
    kw = {n: torch.cat([getattr(p, n) for p in parts], 0) for n in names}
    return CropBatch(**kw, image_size=parts[0].image_size)


def make_hand_batch(frames, crop_cfg: CropConfig, generator: torch.Generator, augment: bool = True,
                    cube_mm: float = 250.0, device=None, centers_mm: Optional[torch.Tensor] = None) -> HandBatch:
    """Crop every valid hand of a :class:`~kpfusion_ros.data.synthetic.FrameBatch`.

    ``generator`` (CPU) draws the augmentation and the point sampling. ``centers_mm``
    (B×2×3) overrides the GT joint-mean centres. Hands whose crop is degenerate are dropped.
    """
    device = torch.device(device) if device is not None else frames.color.device
    valid = frames.hand_valid.cpu().numpy()
    B = valid.shape[0]
    joints = frames.joints_mm.to(device=device, dtype=torch.float32)
    cent = joints.mean(2) if centers_mm is None else centers_mm.to(device=device, dtype=torch.float32)
    cent_np = cent.double().cpu().numpy()
    cam_np = frames.cam.double().cpu().numpy()
    right_np = frames.is_right.cpu().numpy()
    K = int(valid.sum())
    if augment:
        modes = sample_modes(K, generator)
        theta, shift, scale = sample_params(K, generator)
    else:
        modes = ["none"] * K
        theta, shift, scale = torch.zeros(K, dtype=torch.float64), torch.zeros(K, 3, dtype=torch.float64), \
            torch.ones(K, dtype=torch.float64)
    mode_arr = np.array(modes)
    parts, jl, rl, fl = [], [], [], []
    k0 = 0
    for b in range(B):
        hs = np.nonzero(valid[b])[0]
        if len(hs) == 0:
            continue
        sl = slice(k0, k0 + len(hs))
        k0 += len(hs)
        c = cent_np[b, hs].copy()
        m = mode_arr[sl]
        c[m == "com"] += shift[sl].numpy()[m == "com"]
        cube = np.full((len(hs), 3), float(cube_mm))
        cube[m == "sc"] *= scale[sl].numpy()[m == "sc", None]
        parts.append(crop_hands(frames.color[b], frames.depth[b], c, cam_np[b], crop_cfg, generator=generator,
                                mirror=~right_np[b, hs], color_order="rgb", cube_mm=cube, device=device))
        jl.append(joints[b, hs])
        rl.append(frames.is_right[b, hs].to(device))
        fl.append(torch.full((len(hs),), b, device=device, dtype=torch.long))
    if not parts:
        raise ValueError("no valid hand in these frames")
    crops = _cat_crops(parts)
    joints_mm = torch.cat(jl)
    xyz, uvd = labels_from_joints(joints_mm, crops)
    rot = torch.from_numpy(mode_arr == "rot").to(device)
    if bool(rot.any()):
        i = rot.nonzero()[:, 0]
        r_rgb, r_d, r_pcl, r_xyz, r_uvd = rotate_crops(
            crops.rgb[i], crops.depth[i], crops.center[i], crops.M[i], crops.cube[i], crops.cam[i], xyz[i],
            theta.to(device)[i], crop_cfg.num_points, generator)
        crops.rgb[i], crops.depth[i], crops.pcl[i] = r_rgb, r_d, r_pcl
        xyz, uvd = xyz.clone(), uvd.clone()
        xyz[i], uvd[i] = r_xyz, r_uvd
    keep = crops.valid
    hb = HandBatch(crops, xyz, uvd, joints_mm, torch.cat(rl), torch.cat(fl), modes)
    if not bool(keep.all()):
        hb = select(hb, keep)
    return hb


def select(hb: HandBatch, idx) -> HandBatch:
    """Sub-batch of hands (bool mask or index tensor)."""
    c = hb.crops
    names = ["rgb", "depth", "pcl", "center", "M", "cube", "cam", "mirrored", "bounds", "z_range", "valid",
             "num_foreground"]
    crops = CropBatch(**{n: getattr(c, n)[idx] for n in names}, image_size=c.image_size)
    keep = idx.cpu().numpy() if isinstance(idx, torch.Tensor) else np.asarray(idx)
    modes = list(np.array(hb.modes)[keep]) if hb.modes else []
    return HandBatch(crops, hb.xyz_gt[idx], hb.uvd_gt[idx], hb.joints_mm[idx], hb.is_right[idx], hb.frame[idx],
                     modes)


class SyntheticCropStream:
    """Training batches. Without a pool, step s renders frames [s·F, (s+1)·F) of stream
    ``cfg.seed``. With ``pool = P`` (rendering is the bottleneck at 640×480), step s uses the
    window of frames [R·s, R·s + P) (R = ``refresh``; frame f lives in slot f mod P, so each
    step renders only R new frames) and draws F of them at random — each frame is drawn about
    F/R times in total (in expectation), each time with fresh augmentation.

    The augmentation/point-sampling generator is re-seeded per step from (seed, step), so
    batch s is a pure function of (config, s) — resuming at step s gives the same data.
    """

    def __init__(self, cfg: DataConfig, crop_cfg: CropConfig, device="cpu"):
        self.cfg, self.crop_cfg, self.device = cfg, crop_cfg, torch.device(device)
        self.syn = cfg.synthetic()

        self._pool = None
        self._pool_step = None

    def _fill(self, frames_idx, chunk: int = 32) -> None:
        for i in range(0, len(frames_idx), chunk):   # bounded renderer memory
            self._fill_chunk(frames_idx[i:i + chunk])

    def _fill_chunk(self, frames_idx) -> None:
        fb = render_batch(self.cfg.seed, frames_idx, self.syn, self.device)
        slots = torch.tensor([f % self.cfg.pool for f in frames_idx], device=self.device)
        if self._pool is None:
            P = self.cfg.pool
            self._pool = {n: torch.zeros((P,) + tuple(getattr(fb, n).shape[1:]), dtype=getattr(fb, n).dtype,
                                         device=self.device) for n in self._FIELDS}
        for n in self._FIELDS:
            self._pool[n][slots] = getattr(fb, n).to(self.device)

    _FIELDS = ("color", "depth", "cam", "joints_mm", "hand_valid", "is_right")

    def _pooled_frames(self, step: int, g: torch.Generator):
        P, R = self.cfg.pool, self.cfg.refresh
        if self._pool_step is None or step != self._pool_step + 1:
            self._pool = None
            self._fill(list(range(R * step, R * step + P)))
        else:
            self._fill(list(range(R * step + P - R, R * step + P)))
        self._pool_step = step
        pick = torch.randint(P, (self.cfg.frames_per_step,), generator=g).to(self.device)
        from types import SimpleNamespace
        return SimpleNamespace(**{n: self._pool[n][pick] for n in self._FIELDS})

    def batch(self, step: int) -> HandBatch:
        F = self.cfg.frames_per_step
        g = torch.Generator().manual_seed(int(self.cfg.seed) * 1_000_003 + int(step))
        if self.cfg.pool > 0:
            frames = self._pooled_frames(step, g)
        else:
            frames = render_batch(self.cfg.seed, range(step * F, (step + 1) * F), self.syn, self.device)
        return make_hand_batch(frames, self.crop_cfg, g, self.cfg.augment, self.cfg.cube_mm, self.device)


class DatasetCropStream:
    """Training batches from a real-dataset reader (:mod:`kpfusion_ros.data.dexycb`, ``ho3d``).

    Step s draws ``frames_per_step`` frames uniformly (with replacement) with a generator seeded by
    (seed, step), so batch s is a pure function of (dataset, config, s) like the synthetic stream;
    frames go through the same crop, mirroring and augmentation (:func:`make_hand_batch`).
    """

    def __init__(self, dataset, cfg: DataConfig, crop_cfg: CropConfig, device="cpu"):
        if len(dataset) == 0:
            raise ValueError("the training dataset has no frame with a hand")
        self.dataset, self.cfg, self.crop_cfg, self.device = dataset, cfg, crop_cfg, torch.device(device)

    def batch(self, step: int) -> HandBatch:
        from kpfusion_ros.data.batching import frames_to_batch

        g = torch.Generator().manual_seed(int(self.cfg.seed) * 1_000_003 + int(step))
        idx = torch.randint(len(self.dataset), (self.cfg.frames_per_step,), generator=g).tolist()
        frames = frames_to_batch([self.dataset[i] for i in idx], self.device)
        return make_hand_batch(frames, self.crop_cfg, g, self.cfg.augment, self.cfg.cube_mm, self.device)
