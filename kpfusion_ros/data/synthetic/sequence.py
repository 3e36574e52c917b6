"""Smooth motion sequences for the demo recording (deterministic per seed).

Script ("a few seconds at 30 Hz, one and then two hands moving, grasping an
object, passing close to the edge of view"): a right hand moves between random
key poses (one of them next to the image border), reaches an object, closes a
grasp on it and carries it; from ``second_hand_at`` (fraction of the duration)
a left hand enters from the side and moves around. With ``cross_at`` (fraction of the duration) the left hand
is pulled onto the right one around that time, in front of or behind it, without the two passing through each
other (:mod:`.crossing`). Poses, positions and
orientations are interpolated with Catmull-Rom splines through keyframes
(orientation: finger direction and palm normal splined, then re-orthonormalised).
The background, camera and subjects are fixed for the sequence; sensor noise is
drawn per frame from (seed, frame).
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from . import hand_model as hm
from .generator import SyntheticConfig, frame_generator, render_scenes
from .hand_model import normal, normalize, uniform
from .crossing import CROSS_STREAM, Crossing, CrossingMotion
from .grasp import make_grasp
from .scene import (OBJECT_INSTANCE, HandState, SceneSpec, Solid, place_hand, random_color, sample_background,
                    sample_camera, texture)
from .sensor import sample_sensor_params

_SEQ_INDEX = 0x5E9  # generator stream for the sequence's static content (frames use 1 + i)


def _catmull(keys: np.ndarray, times: np.ndarray, t: float) -> np.ndarray:
    """Catmull-Rom through (times, keys) (K×D), clamped at the ends."""
    K = len(times)
    if t <= times[0]:
        return keys[0]
    if t >= times[-1]:
        return keys[-1]
    i = int(np.searchsorted(times, t) - 1)
    s = (t - times[i]) / (times[i + 1] - times[i])
    p0, p1, p2, p3 = keys[max(i - 1, 0)], keys[i], keys[i + 1], keys[min(i + 2, K - 1)]
    return 0.5 * ((2 * p1) + (-p0 + p2) * s + (2 * p0 - 5 * p1 + 4 * p2 - p3) * s * s
                  + (-p0 + 3 * p1 - 3 * p2 + p3) * s ** 3)


def _key(gen, W, H, z_range, edge: bool = False, enter_from: int | None = None):
    """Keyframe: (u, v, z, finger dir(3), palm normal(3))."""
    if enter_from is not None:  # outside the image on one side
        u = -0.25 * W if enter_from == 0 else 1.25 * W
        v = uniform(gen, 0.4, 0.8) * H
    elif edge:
        u = uniform(gen, 0.02, 0.07) * W if uniform(gen, 0, 1) < 0.5 else uniform(gen, 0.93, 0.98) * W
        v = uniform(gen, 0.3, 0.7) * H
    else:
        u, v = uniform(gen, 0.25, 0.75) * W, uniform(gen, 0.3, 0.7) * H
    z = uniform(gen, *z_range)
    d = normalize(normal(gen, 3) * 0.5 + np.array([0.0, -1.0, 0.1]))
    side = 1.0 if uniform(gen, 0, 1) < 0.5 else -1.0
    n = normalize(normal(gen, 3) * 0.6 + np.array([side, 0.0, 0.4]))
    return np.concatenate([[u, v, z], d, n])


def sequence_scenes(
    seed: int,
    num_frames: int = 150,
    fps: float = 30.0,
    config: SyntheticConfig | None = None,
    second_hand_at: float = 0.45,
    grasp_at: float = 0.3,
    cross_at: float | None = None,
) -> list[SceneSpec]:
    """The scene of every frame of a sequence (see module docstring), before sensor sampling and rendering.

    ``cross_at``: None (no crossing), or the fraction of the duration at which the left hand is over the right
    one; its whole window (:class:`.crossing.Crossing`) must lie after the left hand has entered and before the end.
    """
    config = config or SyntheticConfig()
    W, H = config.width, config.height
    gen = frame_generator(seed, _SEQ_INDEX)
    T = max(num_frames - 1, 1) / fps
    cam = sample_camera(gen, W, H, config.scene)
    z_range = (max(config.scene.hand_z_mm[0], 350.0), min(config.scene.hand_z_mm[1], 800.0))

    # hand A (right): keyframes every ~0.7 s, one near the border
    nk = max(3, int(math.ceil(T / 0.7)) + 1)
    tA = np.linspace(0.0, T, nk)
    edge_k = int(uniform(gen, 0, 1) * (nk - 1)) if nk > 3 else nk - 1
    keysA = np.stack([_key(gen, W, H, z_range, edge=(k == edge_k)) for k in range(nk)])
    shapeA = hm.sample_shape(gen, True)
    poses = [hm.sample_pose(gen, "open"), hm.sample_pose(gen, "relaxed")]
    # hand B (left): enters from the side at second_hand_at
    t_enter = second_hand_at * T
    nkB = max(2, int(math.ceil((T - t_enter) / 0.7)) + 1)
    tB = np.linspace(t_enter, T, nkB)
    keysB = np.stack([_key(gen, W, H, z_range, enter_from=1 if k == 0 else None) for k in range(nkB)])
    shapeB = hm.sample_shape(gen, False)
    posesB = np.stack([hm.sample_pose(gen) for _ in range(nkB)])

    def state(shape, keys, times, t, pose) -> HandState:
        k = _catmull(keys, times, t)
        R = hm.frame_from(k[3:6], k[6:9])
        return HandState(shape, np.asarray(pose), R, place_hand(shape, R, k[0], k[1], k[2], cam))

    # object: where hand A holds it at grasp time; static before, carried after
    t_grasp = grasp_at * T
    s_grasp = state(shapeA, keysA, tA, t_grasp, poses[0])
    grasp_pose, held, _ = make_grasp(gen, shapeA, "power")
    c_local, R_local = held.center, held.R
    o = held.moved(s_grasp.R, s_grasp.t)
    obj0 = Solid(o.kind, o.center, o.R, o.size, random_color(gen), texture(gen, (0.0, 0.4), (0.02, 0.2), (0.5, 8.0)),
                 OBJECT_INSTANCE)
    posesA = np.stack([poses[k % 2] if k % 2 == 0 else hm.sample_pose(gen, "relaxed") for k in range(nk)])
    t_close = max(t_grasp - 0.6, 0.0)

    def poseA(t):
        pre = _catmull(posesA, tA, min(t, t_close))
        w = float(np.clip((t - t_close) / max(t_grasp - t_close, 1e-6), 0, 1))
        w = w * w * (3 - 2 * w)
        return np.clip((1 - w) * pre + w * grasp_pose, hm.POSE_LO, hm.POSE_HI)

    crossing = None
    if cross_at is not None:
        crossing = Crossing.draw(frame_generator(seed, CROSS_STREAM), float(cross_at) * T)
        if crossing.start < t_enter + 0.2 or crossing.end > T:
            raise ValueError(f"cross_at {cross_at}: the crossing ({crossing.start:.2f}-{crossing.end:.2f} s) must lie "
                             f"between the left hand's entry + 0.2 s ({t_enter + 0.2:.2f} s) and the end ({T:.2f} s)")

    def stateB(t):
        return state(shapeB, keysB, tB, t, np.clip(_catmull(posesB, tB, t), hm.POSE_LO, hm.POSE_HI))

    def object_at(t, hA):
        if t >= t_grasp:
            return replace(obj0, center=hA.R @ c_local + hA.t, R=hA.R @ R_local)
        return obj0

    motion = None if crossing is None else CrossingMotion(crossing, fps)

    bg = sample_background(gen, W, H, cam, float(np.mean(z_range)), replace(config.scene, p_occluder=0.0), [])

    times = [i / fps for i in range(num_frames)]
    firsts = [state(shapeA, keysA, tA, t, poseA(t)) for t in times]
    objects = [object_at(t, hA) for t, hA in zip(times, firsts)]
    two = [i for i, t in enumerate(times) if t >= t_enter]
    seconds = {i: stateB(times[i]) for i in two}
    if motion is not None:  # the whole path at once: a push may start before the hands meet
        placed = motion.plan([times[i] for i in two], [firsts[i] for i in two], [seconds[i] for i in two],
                             [objects[i] for i in two])
        seconds = dict(zip(two, placed))
    return [SceneSpec(W, H, cam, [firsts[i]] + ([seconds[i]] if i in seconds else []), [objects[i]], bg, {})
            for i in range(num_frames)]


def render_sequence(
    seed: int,
    num_frames: int = 150,
    fps: float = 30.0,
    config: SyntheticConfig | None = None,
    device="cpu",
    batch_size: int = 8,
    second_hand_at: float = 0.45,
    grasp_at: float = 0.3,
    start_stamp: float = 0.0,
    cross_at: float | None = None,
):
    """Yield ``(stamp_seconds, HandFrame)`` for a smooth sequence (:func:`sequence_scenes`, rendered in batches
    with per-frame sensor noise drawn from (seed, frame))."""
    config = config or SyntheticConfig()
    sensor = config.effective_sensor
    scenes = sequence_scenes(seed, num_frames, fps, config, second_hand_at, grasp_at, cross_at)
    for b in range(0, num_frames, batch_size):
        idxs = list(range(b, min(b + batch_size, num_frames)))
        batch = [scenes[i] for i in idxs]
        gens = [frame_generator(seed, 1 + i) for i in idxs]
        for g, sc in zip(gens, batch):
            sc.sensor = sample_sensor_params(g, sensor)
        fb = render_scenes(batch, gens, sensor, device, config.roi, False, seeds=[seed] * len(idxs),
                           indices=idxs, stamps=[start_stamp + i / fps for i in idxs])
        for f in fb.frames():
            yield f.stamp, f


class SyntheticSequences:
    """Rendered sequences (:func:`render_sequence`, one per seed) behind the real-dataset reader interface.

    ``len``, ``reader[i]`` (a :class:`~.generator.HandFrame` with its ``stamp``), ``sequences``,
    ``sequence_indices()`` and ``sample_info(i)``: what :func:`kpfusion_ros.evaluation.real_frames.evaluate_real`
    reads, so that the node protocol (tracking over time, published confidence, handedness, the
    ``min_hand_confidence`` trade-off) runs on rendered frames exactly as on a real recording.
    Frames are rendered one sequence at a time, on first access, and only the current sequence is
    kept (a sequence is a pure function of its seed and the config, so nothing is cached on disk).
    """

    def __init__(self, seeds, num_frames: int = 120, fps: float = 30.0, config: SyntheticConfig | None = None,
                 device="cpu", cross_at: float | None = None):
        seeds = [int(s) for s in seeds]
        if not seeds:
            raise ValueError("SyntheticSequences needs at least one seed")
        if len(set(seeds)) != len(seeds):
            raise ValueError(f"repeated seeds in {seeds}")
        if num_frames < 1:
            raise ValueError(f"num_frames must be >= 1, got {num_frames}")
        self.seeds, self.num_frames, self.fps = seeds, int(num_frames), float(fps)
        self.config = config or SyntheticConfig()
        self.device = device
        self.cross_at = None if cross_at is None else float(cross_at)
        self.sequences = [f"seed_{s}" for s in seeds]
        self._cached: tuple[int, list] | None = None

    def __len__(self) -> int:
        return len(self.seeds) * self.num_frames

    def sequence_indices(self) -> dict[str, list[int]]:
        n = self.num_frames
        return {name: list(range(k * n, (k + 1) * n)) for k, name in enumerate(self.sequences)}

    def sample_info(self, i: int) -> dict:
        k, f = divmod(self._check(i), self.num_frames)
        return {"sequence": self.sequences[k], "seed": self.seeds[k], "frame": f}

    def _check(self, i: int) -> int:
        i = int(i)
        if not 0 <= i < len(self):
            raise IndexError(i)
        return i

    def __getitem__(self, i: int):
        k, f = divmod(self._check(i), self.num_frames)
        if self._cached is None or self._cached[0] != k:
            frames = [fr for _, fr in render_sequence(self.seeds[k], num_frames=self.num_frames, fps=self.fps,
                                                      config=self.config, device=self.device,
                                                      cross_at=self.cross_at)]
            self._cached = (k, frames)
        return self._cached[1][f]
