"""A hand's side from how steadily the pose network answers for each side (ROS-free).

The network only knows right hands (reference §3 "Left hands": left hands are mirrored before it). Shown
a hand the wrong way round it still answers with a right-handed skeleton, but that answer is a poor guess:
on the rendered evaluation frames its error is ~2.7× that of the right way round
(``docs/results/side_stability_2026-12-02/``). A guess moves more when the crop moves. So each hand is
cropped a few times, its centre moved by ± ``shift_mm`` along each camera axis and its cube scaled by
± ``scale``, once as it is and once mirrored; the side whose joints (in the camera frame, un-mirrored) scatter
less over those crops is the likelier one. A network that does not know the answer also hedges toward its
mean pose, which is a smaller hand, so the side whose hand comes out larger is likelier too::

    spread = mean over joints of ‖p_i − mean_i p_i‖ (mm, i over the crops)
    size = mean over the crops i of the mean over joints of ‖p_ij − mean_j p_ij‖ (mm)
    right_logit = gain · ln(spread_mirrored / spread_as_is) + size_gain · ln(size_as_is / size_mirrored)

``gain`` and ``size_gain`` calibrate the logit to a log-odds, fitted on rendered frames. The default is the
spread alone (gain 7.75, ``size_gain`` 0: ``docs/results/side_stability_2026-12-02/``). Spread and size
together (6.75, 5.09) are right for more single hands (0.818 vs 0.766 on a held-out stream), but through the
tracker they published more wrong sides, so they are an option, not the default
(``docs/results/side_size_2026-12-03/``). The test needs
2·P crops per hand (P = :func:`perturbations`' count), all hands of a frame in one forward pass; the
pipeline runs it for the tracks that :func:`side_test_due` names (:class:`~kpfusion_ros.tracking.TrackerConfig`
``side_source``): every frame while a track's side is undecided, and every ``retest_every``-th frame after, so
that a track which moves onto the other hand is turned round (with the tracker's ``side_window``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class SideTestConfig:
    """Perturbations of the stability side test, and the calibration of its logit."""

    #: Centre moves (mm) along +x, −x, +y, −y, +z, −z of the camera frame.
    shift_mm: float = 12.0
    #: Cube scales 1 ± this (0: none).
    scale: float = 0.15
    #: right_logit = gain · ln(spread_mirrored / spread_as_is) + size_gain · ln(size_as_is / size_mirrored).
    #: The spread alone by default; 6.75 and 5.09 are the fit of both (docs/results/side_size_2026-12-03/, where
    #: they missed the rule for the default).
    gain: float = 7.75
    size_gain: float = 0.0
    #: An undecided track is tested on every frame until it has this many tests (then only as below).
    max_tests: int = 30
    #: A track is also tested on every this-many-th frame of its life once decided (or past ``max_tests``),
    #: so that a track which has moved onto another hand turns round; 0 = never. 3 since 2026-12-03 (was 0):
    #: rule 1 of docs/results/side_reset_2026-12-02/.
    retest_every: int = 3

    def __post_init__(self) -> None:
        if not self.shift_mm > 0:
            raise ValueError(f"shift_mm must be > 0, got {self.shift_mm}")
        if not 0.0 <= self.scale < 1.0:
            raise ValueError(f"scale must be in [0, 1), got {self.scale}")
        if not self.gain > 0:
            raise ValueError(f"gain must be > 0, got {self.gain}")
        if not self.size_gain >= 0:
            raise ValueError(f"size_gain must be >= 0, got {self.size_gain}")
        if self.max_tests < 1:
            raise ValueError(f"max_tests must be >= 1, got {self.max_tests}")
        if self.retest_every < 0:
            raise ValueError(f"retest_every must be >= 0, got {self.retest_every}")


def side_test_due(undecided: bool, tests: int, age: int, cfg: SideTestConfig) -> bool:
    """Whether a track is side-tested this frame: while ``undecided`` with fewer than ``max_tests`` ``tests``,
    and on every ``retest_every``-th frame of its ``age`` (frames since creation)."""
    if undecided and tests < cfg.max_tests:
        return True
    return cfg.retest_every > 0 and age % cfg.retest_every == 0


def perturbations(cfg: SideTestConfig) -> tuple[np.ndarray, np.ndarray]:
    """(centre offsets P×3 mm, cube factors P): the unmoved crop first, then the six moves, then the scales."""
    s = float(cfg.shift_mm)
    off = [np.zeros(3)] + [sign * s * np.eye(3)[a] for a in range(3) for sign in (1.0, -1.0)]
    fac = [1.0] * len(off)
    if cfg.scale > 0:
        off += [np.zeros(3), np.zeros(3)]
        fac += [1.0 + cfg.scale, 1.0 - cfg.scale]
    return np.stack(off), np.asarray(fac, dtype=np.float64)


def side_test_crops(centres_mm: np.ndarray, cube_mm: float, cfg: SideTestConfig
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The crops of the test for K hands: (centres (2·K·P)×3 mm, cubes (2·K·P)×3 mm, mirror (2·K·P) bool).

    Order: the K·P as-is crops (hand-major), then the same K·P mirrored."""
    off, fac = perturbations(cfg)
    c = np.asarray(centres_mm, dtype=np.float64).reshape(-1, 3)
    K, P = c.shape[0], off.shape[0]
    cent = (c[:, None, :] + off[None]).reshape(K * P, 3)
    cube = np.repeat((float(cube_mm) * np.tile(fac, K))[:, None], 3, axis=1)
    mirror = np.concatenate([np.zeros(K * P, bool), np.ones(K * P, bool)])
    return np.concatenate([cent, cent]), np.concatenate([cube, cube]), mirror


def _poses(joints_mm: np.ndarray, num_hands: int, cfg: SideTestConfig) -> np.ndarray:
    """The test's poses ((2·K·P)×J×3, the order of :func:`side_test_crops`) as 2×K×P×J×3."""
    P = perturbations(cfg)[0].shape[0]
    return np.asarray(joints_mm, dtype=np.float64).reshape(2, num_hands, P, -1, 3)


def spreads(joints_mm: np.ndarray, num_hands: int, cfg: SideTestConfig) -> np.ndarray:
    """Joint spread (mm) per hand and side from the test's poses ((2·K·P)×J×3, camera frame) → K×2
    (column 0: as-is, 1: mirrored). Poses that are not finite make that side's spread NaN."""
    p = _poses(joints_mm, num_hands, cfg)
    dev = np.linalg.norm(p - p.mean(axis=2, keepdims=True), axis=-1)  # 2×K×P×J
    return dev.mean(axis=(2, 3)).T


def sizes(joints_mm: np.ndarray, num_hands: int, cfg: SideTestConfig) -> np.ndarray:
    """Hand size (mm: each pose's mean joint distance from its joint mean, averaged over the crops) per hand and
    side from the test's poses → K×2 (column 0: as-is, 1: mirrored); NaN where a pose is not finite."""
    p = _poses(joints_mm, num_hands, cfg)
    return np.linalg.norm(p - p.mean(axis=3, keepdims=True), axis=-1).mean(axis=(2, 3)).T


def right_logits(spread: np.ndarray, cfg: SideTestConfig, size: np.ndarray | None = None) -> np.ndarray:
    """K×2 spreads (and K×2 sizes, used when ``cfg.size_gain`` > 0) → K right-hand logits (NaN where a spread
    or a used size is not finite or not positive)."""
    s = np.asarray(spread, dtype=np.float64).reshape(-1, 2)
    ok = np.isfinite(s).all(axis=1) & (s > 0).all(axis=1)
    use_size = cfg.size_gain > 0
    if use_size:
        if size is None:
            raise ValueError("right_logits: cfg.size_gain > 0 needs the sizes")
        z = np.asarray(size, dtype=np.float64).reshape(-1, 2)
        ok &= np.isfinite(z).all(axis=1) & (z > 0).all(axis=1)
    out = np.full(s.shape[0], np.nan)
    out[ok] = cfg.gain * np.log(s[ok, 1] / s[ok, 0])
    if use_size:
        out[ok] += cfg.size_gain * np.log(z[ok, 0] / z[ok, 1])
    return out


def pose_logits(joints_mm: np.ndarray, num_hands: int, cfg: SideTestConfig) -> np.ndarray:
    """K right-hand logits straight from the test's poses ((2·K·P)×J×3): :func:`right_logits` of their
    :func:`spreads`, and of their :func:`sizes` only when ``cfg.size_gain`` > 0 uses them."""
    size = sizes(joints_mm, num_hands, cfg) if cfg.size_gain > 0 else None
    return right_logits(spreads(joints_mm, num_hands, cfg), cfg, size)
