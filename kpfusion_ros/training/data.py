"""Training batches: per-hand GT-centred crops (the paper's protocol), batched on the device.

Two sources:

* :class:`RenderedCropStream` (the default for synthetic training): every hand's crop is
  **rendered directly** (:mod:`kpfusion_ros.data.synthetic.crops` — only the crop's rays),
  in background worker processes that run ahead of the optimiser, into a pool of recent
  crops from which each step draws its batch with fresh augmentation. Deterministic:
  batch s is a pure function of (config, s), whatever the number of workers.
* :class:`SyntheticCropStream` (full frames, then :func:`make_hand_batch`) and
  :class:`DatasetCropStream` (a real-dataset reader's frames): crop every valid hand of a
  frame batch at the mean of its 21 GT joints (reference §3 "Crop center"), left hands
  mirrored, with one augmentation per hand (:mod:`.augment`). Evaluation uses
  :func:`make_hand_batch` without augmentation on a disjoint seed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Optional

import numpy as np
import torch

from ..data.synthetic import SceneConfig, SyntheticConfig, render_batch
from ..preprocessing import (CUBE_MM, CropBatch, CropConfig, crop_hands, foreground_points_mask, labels_from_joints,
                             lift_pixels, sample_indices, seen_joints)
from ..preprocessing.labels import HIDDEN_MAX_SEEN
from ..tracking import joint_mean
from .augment import COM_RANGE_MM, SCALE_RANGE, randomize_rgb, rotate_selected, sample_modes, sample_params


@dataclass
class DataConfig:
    seed: int = 0                 # synthetic stream seed (training); evaluation uses another
    width: int = 640
    height: int = 480
    frames_per_step: int = 24     # frames per batch (≈1.3 hands per frame); crops: hands per batch = this
    pool: int = 0                 # >0: keep a window of this many rendered frames (crops: samples) ...
    refresh: int = 4              # ... and render only this many new ones per step
    cube_mm: float = CUBE_MM
    augment: bool = True
    clean: bool = False           # no sensor defects
    render: str = "crops"         # synthetic training: "crops" (rendered directly) or "frames"
    workers: int = 1              # crops: background rendering processes (0 = render in the training process)
    rgb_drop: float = 0.2         # crops: fraction of samples whose colour crop is blanked (depth must carry)
    rgb_jitter: bool = True       # crops: random gain, contrast, channel mix, grey on the colour crop
    p_rot: float = 0.5            # crops: in-plane rotation at draw time (the authors' 'rot', fresh per draw)
    #: 'com' augmentation: the crop centre moves U(−x, x) mm per axis (reference: 10). Wider teaches the network
    #: the crops the node makes, centred where the localiser or the last pose put them, not on the GT.
    com_shift_mm: float = COM_RANGE_MM
    #: crops: a hand with at most ``hidden_max_seen`` seen joints (:func:`~kpfusion_ros.preprocessing.seen_joints`)
    #: is drawn from the pool this many times as often as another (1 = uniform draws, as before). Real grasps hide
    #: far more of the hand than the training stream does (docs/results/seen_joints_2026-12-04/).
    hidden_weight: float = 1.0
    hidden_max_seen: int = HIDDEN_MAX_SEEN
    #: crops: a hand whose visible pixels got a sensor depth at a share below this
    #: (:func:`~kpfusion_ros.preprocessing.sensed_share`) is never drawn (0 = every hand, as before). The sensor models
    #: leave some hands without depth (an Azure Kinect sees nothing nearer than 0.5 m, and egocentric hands are
    #: 0.25–0.6 m away): such a crop has no pose in it for a depth network, only a guess to learn
    #: (docs/results/seen_joints_2026-12-04/).
    min_sensed: float = 0.0
    #: synthetic: per hand, the probability of a hand-held object just in front of it, between it and the camera
    #: (``SceneConfig.p_front_object``; 0 = none, the stream of before). Real grasps are often seen from behind
    #: what the hand holds (F-PHAB's bottle); the rendered stream's hidden hands mostly hide behind themselves
    #: (docs/results/seen_joints_2026-12-04/).
    front_object: float = 0.0

    def synthetic(self) -> SyntheticConfig:
        return SyntheticConfig(width=self.width, height=self.height, clean=self.clean,
                               scene=SceneConfig(p_front_object=self.front_object))


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
                    cube_mm: float = CUBE_MM, device=None, centers_mm: Optional[torch.Tensor] = None,
                    com_shift_mm: float = COM_RANGE_MM) -> HandBatch:
    """Crop every valid hand of a :class:`~kpfusion_ros.data.synthetic.FrameBatch`.

    ``generator`` (CPU) draws the augmentation and the point sampling. ``centers_mm``
    (B×2×3) overrides the GT joint-mean centres. Hands whose crop is degenerate are dropped.
    """
    device = torch.device(device) if device is not None else frames.color.device
    valid = frames.hand_valid.cpu().numpy()
    B = valid.shape[0]
    joints = frames.joints_mm.to(device=device, dtype=torch.float32)
    cent_np = (joint_mean(frames.joints_mm.cpu().numpy()) if centers_mm is None
               else centers_mm.double().cpu().numpy())
    cam_np = frames.cam.double().cpu().numpy()
    right_np = frames.is_right.cpu().numpy()
    K = int(valid.sum())
    if augment:
        modes = sample_modes(K, generator)
        theta, shift, scale = sample_params(K, generator, com_shift_mm)
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
    xyz, uvd = rotate_selected(crops, xyz, uvd, rot, theta, crop_cfg.num_points, generator)
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
        return make_hand_batch(frames, self.crop_cfg, g, self.cfg.augment, self.cfg.cube_mm, self.device,
                               com_shift_mm=self.cfg.com_shift_mm)


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
        return make_hand_batch(frames, self.crop_cfg, g, self.cfg.augment, self.cfg.cube_mm, self.device,
                               com_shift_mm=self.cfg.com_shift_mm)


# --------------------------------------------------------------------------------------------
# crops rendered directly, in background processes, pooled
# --------------------------------------------------------------------------------------------

#: Fields of a crop sample kept in the pool (CropBatch fields + labels).
_CROP_FIELDS = ("rgb", "depth", "center", "M", "cube", "cam", "mirrored", "bounds", "z_range", "valid",
                "num_foreground")
_SAMPLE_STREAM = 0x5A3  # augmentation generator stream, disjoint from the scene's frame generator


def render_training_crops(seed: int, indices, syn: SyntheticConfig, crop_cfg: CropConfig,
                          augment: bool = True, cube_mm: float = CUBE_MM, com_shift_mm: float = COM_RANGE_MM) -> dict:
    """Crops of every hand of synthetic samples ``indices`` of stream ``seed`` (CPU tensors).

    Per hand one render-time augmentation: 'com' (centre shift ±``com_shift_mm`` per axis), 'sc' (cube ×
    [0.8, 1.2]) or none, a third each (rotation is applied later, at draw time). Returns a dict of
    stacked tensors (``_CROP_FIELDS`` with rgb as uint8, plus joints_mm, is_right, sample) — a pure
    function of (seed, indices, config).
    """
    from ..data.synthetic.crops import render_hand_crops
    from ..data.synthetic.generator import frame_generator, sensor_finish
    from ..data.synthetic.scene import hand_cones, sample_scene

    sensor = syn.effective_sensor
    scenes, hands, cents, cubes, gens, sample, joints, right = [], [], [], [], [], [], [], []
    for i in indices:
        g = frame_generator(seed, int(i))
        sc = sample_scene(g, syn.width, syn.height, syn.scene, sensor)
        ga = frame_generator(seed ^ _SAMPLE_STREAM, int(i))
        for h in range(min(len(sc.hands), 2)):
            J = hand_cones(sc.hands[h])[3]
            c = joint_mean(J)
            cube = np.full(3, float(cube_mm))
            if augment:
                mode = int(torch.randint(3, (1,), generator=ga))
                shift = (torch.rand(3, generator=ga, dtype=torch.float64).numpy() * 2 - 1) * com_shift_mm
                scale = 1 + (float(torch.rand(1, generator=ga, dtype=torch.float64)) * 2 - 1) * SCALE_RANGE
                if mode == 0:
                    c = c + shift
                elif mode == 1:
                    cube = cube * scale
            scenes.append(sc), hands.append(h), cents.append(c), cubes.append(cube), gens.append(ga)
            sample.append(int(i)), joints.append(J), right.append(sc.hands[h].shape.is_right)
    if not scenes:
        return {"sample": torch.zeros(0, dtype=torch.long)}
    # colour stays 0–255 (uint8) in the pool: the batch builder scales it
    cc = replace(crop_cfg, dtype=torch.float32)
    finish = sensor_finish(scenes, syn.width)
    batch, _, sensed = render_hand_crops(scenes, hands, np.stack(cents), np.stack(cubes), cc, finish,
                                 torch.Generator().manual_seed(int(seed) * 7919 + int(indices[0])))
    out = {n: getattr(batch, n) for n in _CROP_FIELDS}
    out["rgb"] = (out["rgb"] * 255.0).round().to(torch.uint8)
    out["joints_mm"] = torch.as_tensor(np.stack(joints), dtype=torch.float32)
    out["is_right"] = torch.as_tensor(right)
    out["seen"] = seen_joints(out["joints_mm"], batch).to(torch.int16)
    out["sensed"] = sensed.to(torch.float32)
    out["sample"] = torch.as_tensor(sample, dtype=torch.long)
    out["image_size"] = (syn.height, syn.width)
    return out


def draw_indices(seen: torch.Tensor, count: int, g: torch.Generator, hidden_weight: float = 1.0,
                 hidden_max_seen: int = HIDDEN_MAX_SEEN, sensed: Optional[torch.Tensor] = None,
                 min_sensed: float = 0.0) -> torch.Tensor:
    """``count`` pool indices drawn with replacement: uniformly (``hidden_weight`` 1 and ``min_sensed`` 0, the draw
    of before), or with the hands that show at most ``hidden_max_seen`` seen joints weighted ``hidden_weight`` and
    those whose ``sensed`` share is below ``min_sensed`` left out."""
    n = int(seen.shape[0])
    if hidden_weight == 1.0 and min_sensed <= 0:
        return torch.randint(n, (count,), generator=g)
    if hidden_weight <= 0:
        raise ValueError(f"hidden_weight must be > 0, got {hidden_weight}")
    w = torch.where(seen.to(torch.int64) <= int(hidden_max_seen), float(hidden_weight), 1.0).to(torch.float64)
    if min_sensed > 0:
        if sensed is None or sensed.shape[0] != n:
            raise ValueError("min_sensed needs the pool's sensed shares (crops rendered by render_training_crops)")
        w = torch.where(sensed.to(torch.float64) >= float(min_sensed), w, torch.zeros_like(w))
        if not bool((w > 0).any()):
            raise ValueError(f"no hand of the {n} in the pool has a sensed share >= {min_sensed}")
    return torch.multinomial(w, count, replacement=True, generator=g)


def _cat_samples(parts: list[dict]) -> dict:
    parts = [p for p in parts if len(p["sample"])]
    if not parts:
        return {"sample": torch.zeros(0, dtype=torch.long)}
    out = {k: torch.cat([p[k] for p in parts]) for k in parts[0] if k != "image_size"}
    out["image_size"] = parts[0]["image_size"]
    return out


def _worker(q_in, q_out, seed, syn, crop_cfg, augment, cube_mm, com_shift_mm):  # pragma: no cover - other process
    """Render the chunks asked for on ``q_in`` until told to stop (None) or until the training process is gone.

    ``daemon=True`` ends workers only when the training process exits normally; killed (SIGTERM from a job
    scheduler, SIGKILL), it would leave a worker rendering the chunks still queued (a whole pool's worth at
    the start: it was seen burning a core for half an hour). So the worker checks its parent before every job."""
    import multiprocessing
    import queue

    from ..runtime import keep_freed_buffers

    torch.set_num_threads(1)
    keep_freed_buffers()  # each crop's ray buffers reuse freed heap instead of page-faulting again
    parent = multiprocessing.parent_process()
    while parent is None or parent.is_alive():
        try:
            job = q_in.get(timeout=1.0)
        except queue.Empty:
            continue
        if job is None:
            return
        key, indices = job
        q_out.put((key, render_training_crops(seed, indices, syn, crop_cfg, augment, cube_mm, com_shift_mm)))


class RenderedCropStream:
    """Training batches of crops rendered directly (module docstring), ``frames_per_step`` hands each.

    The pool holds the crops of the last ``pool`` samples (default 8 × frames_per_step); before step
    s it is exactly samples [s·R, s·R + pool) (R = ``refresh``), so batch s — drawn with a generator
    seeded by (seed, s), rotated with probability ``p_rot``, colour randomised, points re-sampled —
    is a pure function of (config, s) and resuming at s gives the same data. ``workers`` processes
    render the samples of future steps while the optimiser runs.
    """

    def __init__(self, cfg: DataConfig, crop_cfg: CropConfig, device="cpu", syn: Optional[SyntheticConfig] = None):
        self.cfg, self.crop_cfg, self.device = cfg, crop_cfg, torch.device(device)
        self.syn = syn or cfg.synthetic()
        self.P = cfg.pool if cfg.pool > 0 else 8 * cfg.frames_per_step
        self.R = max(1, cfg.refresh)
        self._groups: dict[int, dict] = {}  # sample chunk key → crops
        self._step = None
        self._procs, self._q_in, self._q_out, self._asked = [], None, None, set()
        self._ahead = 3

    # -- rendering, here or in the workers ---------------------------------------------------
    def _chunk_indices(self, key: int):
        return list(range(key * self.R, (key + 1) * self.R))

    def _start_workers(self):
        if self._procs or self.cfg.workers <= 0:
            return
        import torch.multiprocessing as mp
        ctx = mp.get_context("spawn")
        self._q_in, self._q_out = ctx.Queue(), ctx.Queue()
        for _ in range(self.cfg.workers):
            p = ctx.Process(target=_worker, args=(self._q_in, self._q_out, self.cfg.seed, self.syn, self.crop_cfg,
                                                  self.cfg.augment, self.cfg.cube_mm, self.cfg.com_shift_mm),
                            daemon=True)
            p.start()
            self._procs.append(p)

    def _ask(self, key: int):
        if self.cfg.workers > 0 and key not in self._asked and key not in self._groups:
            self._start_workers()
            self._q_in.put((key, self._chunk_indices(key)))
            self._asked.add(key)

    def _get(self, key: int) -> dict:
        if key in self._groups:
            return self._groups[key]
        if self.cfg.workers <= 0:
            self._groups[key] = render_training_crops(self.cfg.seed, self._chunk_indices(key), self.syn,
                                                      self.crop_cfg, self.cfg.augment, self.cfg.cube_mm,
                                                      self.cfg.com_shift_mm)
            return self._groups[key]
        self._ask(key)
        while key not in self._groups:
            k, g = self._q_out.get()
            self._groups[k] = g
            self._asked.discard(k)
        return self._groups[key]

    def close(self):
        for _ in self._procs:
            self._q_in.put(None)
        for p in self._procs:
            p.join(timeout=5)
            if p.is_alive():
                p.terminate()
        self._procs = []

    def __del__(self):  # noqa: D105
        try:
            self.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass

    # -- batches -------------------------------------------------------------------------------
    def pool_keys(self, step: int) -> list[int]:
        """Sample chunks (of R samples) in the pool at ``step``: samples [s·R, s·R + P)."""
        n = -(-self.P // self.R)
        return list(range(step, step + n))

    def batch(self, step: int) -> HandBatch:
        keys = self.pool_keys(step)
        for k in range(keys[-1] + 1, keys[-1] + 1 + self._ahead):  # keep the workers busy
            self._ask(k)
        for k in keys:
            self._ask(k)
        pool = _cat_samples([self._get(k) for k in keys])
        for k in [k for k in self._groups if k < step]:
            del self._groups[k]
        g = torch.Generator().manual_seed(int(self.cfg.seed) * 1_000_003 + int(step))
        n = len(pool["sample"])
        if n == 0:
            raise ValueError("no hand in the pooled samples")
        pick = draw_indices(pool["seen"], self.cfg.frames_per_step, g, self.cfg.hidden_weight, self.cfg.hidden_max_seen,
                            pool.get("sensed"), self.cfg.min_sensed)
        return self._draw(pool, pick, g)

    def _draw(self, pool: dict, pick: torch.Tensor, g: torch.Generator) -> HandBatch:
        dev, cc = self.device, self.crop_cfg
        f = {k: pool[k][pick].to(dev) for k in _CROP_FIELDS}
        rgb = f["rgb"].to(cc.dtype) / torch.full((), 255.0, dtype=cc.dtype, device=dev)
        K = len(pick)
        if self.cfg.augment and (self.cfg.rgb_jitter or self.cfg.rgb_drop > 0):
            rgb = randomize_rgb(rgb, g, self.cfg.rgb_drop, self.cfg.rgb_jitter)
        depth = f["depth"].to(cc.dtype)
        # fresh points every draw
        mask = foreground_points_mask(depth[:, 0], f["center"], f["cube"])
        src, any_fg = sample_indices(mask, cc.num_points, g)
        pcl = lift_pixels(depth[:, 0], src, f["center"], f["M"], f["cube"], f["cam"])
        pcl = torch.where(any_fg.view(K, 1, 1), pcl, torch.zeros_like(pcl))
        crops = CropBatch(rgb=rgb, depth=depth, pcl=pcl, center=f["center"], M=f["M"], cube=f["cube"], cam=f["cam"],
                          mirrored=f["mirrored"], bounds=f["bounds"], z_range=f["z_range"], valid=f["valid"],
                          num_foreground=f["num_foreground"], image_size=tuple(pool["image_size"]))
        joints_mm = pool["joints_mm"][pick].to(dev)
        xyz, uvd = labels_from_joints(joints_mm, crops)
        modes = ["none"] * K
        if self.cfg.augment and self.cfg.p_rot > 0:
            rot = torch.rand(K, generator=g) < self.cfg.p_rot
            theta = (torch.rand(K, generator=g, dtype=torch.float64) * 2 - 1) * math.pi
            if bool(rot.any()):
                xyz, uvd = rotate_selected(crops, xyz, uvd, rot, theta, cc.num_points, g)
                modes = ["rot" if bool(r) else "none" for r in rot]
        hb = HandBatch(crops, xyz, uvd, joints_mm, pool["is_right"][pick].to(dev), pool["sample"][pick].to(dev), modes)
        keep = crops.valid & (crops.num_foreground > 0)
        if not bool(keep.all()):
            hb = select(hb, keep)
        return hb
