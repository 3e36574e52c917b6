"""The stability side test (kpfusion_ros.side_test): its crops, spreads and logits, and the pipeline running it
for undecided tracks only (a model that answers steadily only the right way round)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from kpfusion_ros.hand import HANDEDNESS_LEFT, HANDEDNESS_RIGHT, HANDEDNESS_UNKNOWN
from kpfusion_ros.localization import HandCandidate
from kpfusion_ros.model.output import KPFusionOutput
from kpfusion_ros.node_config import NodeConfig, pipeline_config
from kpfusion_ros.pipeline import HandPosePipeline, PipelineConfig
from kpfusion_ros.side_test import (SideTestConfig, perturbations, pose_logits, right_logits, side_test_crops, sizes,
                                    spreads)
from kpfusion_ros.tracking import HandTracker, TrackerConfig


def test_perturbations_and_crops_layout():
    off, fac = perturbations(SideTestConfig(shift_mm=10.0, scale=0.2))
    assert off.shape == (9, 3) and fac.shape == (9,)
    assert np.array_equal(off[0], np.zeros(3)) and fac[0] == 1.0  # the unmoved crop first
    assert np.allclose(np.abs(off[1:7]).sum(1), 10.0) and np.allclose(off[1:7].sum(0), 0.0)  # ±10 mm on each axis
    assert np.allclose(fac[7:], [1.2, 0.8]) and np.array_equal(off[7:], np.zeros((2, 3)))
    off0, fac0 = perturbations(SideTestConfig(scale=0.0))
    assert off0.shape == (7, 3) and np.all(fac0 == 1.0)
    c = np.array([[0.0, 0.0, 500.0], [100.0, 0.0, 600.0]])
    cent, cube, mirror = side_test_crops(c, 250.0, SideTestConfig(shift_mm=10.0, scale=0.2))
    assert cent.shape == (36, 3) and cube.shape == (36, 3) and mirror.tolist() == [False] * 18 + [True] * 18
    assert np.allclose(cent[9], c[1]) and np.allclose(cent[18:], cent[:18])  # hand-major, then the same mirrored
    assert np.allclose(cube[7], 300.0) and np.allclose(cube[8], 200.0) and np.allclose(cube[0], 250.0)


def test_spreads_and_logits():
    cfg = SideTestConfig(scale=0.0, gain=2.0, size_gain=0.0)
    P = perturbations(cfg)[0].shape[0]
    rng = np.random.default_rng(0)
    base = rng.normal(size=(21, 3)) * 40.0
    moves = rng.normal(size=(P, 1, 3))
    # hand 0: as-is steady (1 mm moves), mirrored wobbly (4 mm); hand 1 the other way round
    as_is = np.stack([base + 1.0 * moves, base + 4.0 * moves])
    mirrored = np.stack([base + 4.0 * moves, base + 1.0 * moves])
    joints = np.concatenate([as_is.reshape(-1, 21, 3), mirrored.reshape(-1, 21, 3)])
    s = spreads(joints, 2, cfg)
    expect = np.linalg.norm(moves[:, 0] - moves[:, 0].mean(0), axis=-1).mean()
    assert np.allclose(s, [[expect, 4 * expect], [4 * expect, expect]])
    lg = right_logits(s, cfg)
    assert np.allclose(lg, [2.0 * np.log(4.0), -2.0 * np.log(4.0)])
    bad = right_logits(np.array([[0.0, 1.0], [np.nan, 1.0], [1.0, 1.0]]), cfg)
    assert np.isnan(bad[0]) and np.isnan(bad[1]) and bad[2] == 0.0
    for kw in ({"shift_mm": 0.0}, {"scale": 1.0}, {"gain": 0.0}, {"size_gain": -1.0}, {"max_tests": 0}):
        with pytest.raises(ValueError):
            SideTestConfig(**kw)


def test_sizes_and_the_size_term_of_the_logit():
    cfg = SideTestConfig(scale=0.0, gain=2.0, size_gain=3.0)
    P = perturbations(cfg)[0].shape[0]
    rng = np.random.default_rng(1)
    base = rng.normal(size=(21, 3)) * 40.0
    base -= base.mean(0)
    size0 = np.linalg.norm(base, axis=-1).mean()
    shifts = rng.normal(size=(P, 1, 3)) * 5.0  # whole-pose moves: the spread is theirs, the size is unchanged
    # hand 0: the as-is hand full size, the mirrored one at 0.8 (a hedge toward the mean pose); both equally steady
    as_is = np.stack([base + shifts, 0.8 * base + shifts])
    mirrored = np.stack([0.8 * base + shifts, base + shifts])
    joints = np.concatenate([as_is.reshape(-1, 21, 3), mirrored.reshape(-1, 21, 3)])
    z = sizes(joints, 2, cfg)
    assert np.allclose(z, [[size0, 0.8 * size0], [0.8 * size0, size0]])
    s = spreads(joints, 2, cfg)
    assert np.allclose(s[:, 0], s[:, 1])  # the spread cannot tell them apart
    lg = right_logits(s, cfg, z)
    assert np.allclose(lg, [3.0 * np.log(1.25), -3.0 * np.log(1.25)])
    with pytest.raises(ValueError):
        right_logits(s, cfg)  # the size term needs the sizes
    assert np.isnan(right_logits(s, cfg, np.array([[0.0, 1.0], [1.0, 1.0]]))[0])
    # pose_logits, the pipeline's call: the same logits from the poses; with size_gain 0, the spread alone
    assert np.allclose(pose_logits(joints, 2, cfg), lg)
    assert np.allclose(pose_logits(joints, 2, replace(cfg, size_gain=0.0)), 0.0)
    # a pose that is not finite makes that side's size NaN, and so the logit
    joints[0, 0, 0] = np.nan
    assert np.isnan(sizes(joints, 2, cfg)[0, 0]) and np.isnan(right_logits(spreads(joints, 2, cfg), cfg,
                                                                          sizes(joints, 2, cfg))[0])


def test_stability_source_ignores_the_detections_side():
    tr = HandTracker(TrackerConfig(min_hits=1, side_source="stability", min_side_estimates=1))
    tr.update([HandCandidate(centre_mm=np.array([0.0, 0.0, 500.0]), bbox=(0, 0, 10, 10), pixel_count=100,
                             mean_depth_mm=500.0, score=0.9, right_logit=5.0, p_right=0.99)], 0.0)
    t = tr.tracks[0]
    assert tr.handedness(t)[0] == HANDEDNESS_UNKNOWN and t.side_weight == 0.0 and t.hand_score == pytest.approx(0.9)
    t.add_side_evidence(-3.0, 0.9, tr.config.max_side_logit)
    assert tr.handedness(t)[0] == HANDEDNESS_LEFT and t.side_tests == 1
    with pytest.raises(ValueError):
        TrackerConfig(side_source="coin")
    assert pipeline_config(replace(NodeConfig(), side_source="stability")).tracker.side_source == "stability"
    assert "side_source must be one of" in " ".join(replace(NodeConfig(), side_source="coin").validate())


class SideOracle(torch.nn.Module):
    """Answers a hand's true joints; the right way round they barely follow the crop centre, the wrong way round
    they follow it fully (a guess anchored to its crop), so the wrong side's joints move with the crop."""

    def __init__(self, joints_mm, width: int, left: bool):
        super().__init__()
        self.joints = torch.from_numpy(np.asarray(joints_mm, np.float64))
        self.width, self.left = width, left
        self.crops_seen = 0

    def forward(self, rgb, depth, pcl, center, M, cube, cam):
        from kpfusion_ros.geometry import mirror_points_mm

        K = center.shape[0]
        self.crops_seen += K
        j = self.joints.to(center.dtype).unsqueeze(0).expand(K, -1, -1)
        jm = mirror_points_mm(j, cam, self.width)
        mirrored = (center - jm.mean(1)).norm(dim=-1) < (center - j.mean(1)).norm(dim=-1)
        jj = torch.where(mirrored.view(-1, 1, 1), jm, j)
        anchor = torch.where(mirrored == self.left, 0.1, 1.0).to(center.dtype)
        jj = jj + anchor.view(-1, 1, 1) * (center - jj.mean(1)).unsqueeze(1)
        xyz = (jj - center[:, None, :]) / (cube[:, None, :] / 2)
        return KPFusionOutput(maps=[], poses=[xyz], whm=[], initial=xyz, initial_uvd=xyz)


def _run(left: bool, source: str, frames: int = 3, min_side_estimates: int = 1):
    from kpfusion_ros.model import preset

    from test_handedness import _left_frame

    f = _left_frame()  # a left hand; the oracle is told which side is the right way round
    gt = f.joints_mm[0].astype(np.float64)
    model = SideOracle(gt, f.width, left)
    pipe = HandPosePipeline(PipelineConfig(device="cpu", refine_iterations=0,
                                           tracker=replace(TrackerConfig(), side_source=source,
                                                           min_side_estimates=min_side_estimates),
                                           side_test=SideTestConfig(retest_every=0)),  # tested until decided only
                            model=model, model_cfg=preset("lite"))
    c0 = gt.mean(0)
    pipe.localizer.localize = (lambda depth, cam, c0=c0: [HandCandidate(
        centre_mm=c0 + np.array([30.0, 0.0, 0.0]), bbox=(0, 0, 10, 10), pixel_count=1, mean_depth_mm=c0[2],
        score=0.95, right_logit=4.0, p_right=0.98)])  # the verifier says right
    seen, results = [], []
    for i in range(frames):
        model.crops_seen = 0
        results.append(pipe.process(f.color, f.depth.astype(np.float32), f.cam, stamp=0.1 * i))
        seen.append(model.crops_seen)
    return pipe, results, seen


@pytest.mark.parametrize("left", [True, False])
def test_pipeline_runs_the_side_test_until_the_side_is_decided(left):
    pipe, results, seen = _run(left, "stability")
    h = results[-1].hands[0]
    assert h.handedness == (HANDEDNESS_LEFT if left else HANDEDNESS_RIGHT)
    assert h.mirrored == left and h.handedness_confidence > 0.99
    assert pipe.tracker.tracks[0].side_tests == 1
    P = perturbations(pipe.cfg.side_test)[0].shape[0]
    assert seen == [1 + 2 * P, 1, 1]  # the test's 2·P crops on the first frame only, then decided
    assert "side_test" in results[0].timings_ms


def test_verifier_source_runs_no_side_test():
    pipe, results, seen = _run(True, "verifier")
    assert results[-1].hands[0].handedness == HANDEDNESS_RIGHT  # what the (here wrong) verifier says
    assert seen == [1, 1, 1] and "side_test" not in results[0].timings_ms


def test_min_side_estimates_holds_the_side_unknown_and_keeps_the_test_running():
    tr = HandTracker(TrackerConfig(min_hits=1, min_side_estimates=3))
    tr.update([np.array([0.0, 0.0, 500.0])], 0.0)
    t = tr.tracks[0]
    for k in range(3):
        assert tr.handedness(t)[0] == HANDEDNESS_UNKNOWN
        t.add_side_evidence(-5.0, 1.0, tr.config.max_side_logit)
    assert tr.handedness(t)[0] == HANDEDNESS_LEFT and t.side_tests == 3
    with pytest.raises(ValueError):
        TrackerConfig(min_side_estimates=0)
    # in the pipeline: the test runs on the first three frames, then the side is published
    pipe, results, seen = _run(True, "stability", frames=5, min_side_estimates=3)
    P = perturbations(pipe.cfg.side_test)[0].shape[0]
    assert seen == [1 + 2 * P] * 3 + [1, 1]
    published = [[h.handedness for h in r.hands] for r in results]  # a track is published from its min_hits-th frame
    assert published == [[], [], [HANDEDNESS_LEFT], [HANDEDNESS_LEFT], [HANDEDNESS_LEFT]]


def test_side_window_keeps_only_the_last_estimates():
    tr = HandTracker(TrackerConfig(min_hits=1, side_source="stability", side_window=3, min_side_estimates=1))
    tr.update([np.array([0.0, 0.0, 500.0])], 0.0)
    t = tr.tracks[0]
    for w in (1.0, 0.5, 0.8):
        tr.add_side_evidence(t, -4.0, w)
    assert tr.handedness(t)[0] == HANDEDNESS_LEFT and t.side_weight == pytest.approx(2.3)
    for k, w in enumerate((0.9, 0.6)):  # two right estimates outweigh the one left estimate still in the window
        tr.add_side_evidence(t, 9.0, w)  # clipped to max_side_logit
    assert len(t.side_evidence) == 3 and t.side_tests == 5
    assert t.side_weight == pytest.approx(0.8 + 0.9 + 0.6)
    m = tr.config.max_side_logit
    assert t.side_logit_sum == pytest.approx(0.8 * -4.0 + (0.9 + 0.6) * m)
    assert tr.handedness(t)[0] == HANDEDNESS_RIGHT
    # no window: the same estimates keep the whole life's mean
    # no window (0, or any window with the verifier source, where it does not apply): the same estimates keep the
    # whole life's mean, from running sums alone (nothing is stored, so a long-lived track does not grow)
    for cfg in (TrackerConfig(min_hits=1, side_source="stability", side_window=0, min_side_estimates=1),
                TrackerConfig(min_hits=1, side_source="verifier", side_window=3, min_side_estimates=1)):
        tr0 = HandTracker(cfg)
        tr0.update([np.array([0.0, 0.0, 500.0])], 0.0)
        t0 = tr0.tracks[0]
        for logit, w in ((-4.0, 1.0), (-4.0, 0.5), (-4.0, 0.8), (9.0, 0.9), (9.0, 0.6)):
            tr0.add_side_evidence(t0, logit, w)
        assert len(t0.side_evidence) == 0 and t0.side_tests == 5
        assert t0.side_weight == pytest.approx(3.8)
        assert t0.side_logit_sum == pytest.approx(-4.0 * 2.3 + m * 1.5)
        assert t0.p_right < 0.5  # the old left estimates still (barely) outweigh
        assert tr0.handedness(t0)[0] == HANDEDNESS_UNKNOWN  # ... far too weakly to publish a side
    with pytest.raises(ValueError):
        TrackerConfig(side_window=-1)


def test_side_test_due():
    from kpfusion_ros.side_test import side_test_due

    cfg = SideTestConfig(max_tests=4, retest_every=0)
    assert [side_test_due(True, n, 7, cfg) for n in range(6)] == [True] * 4 + [False] * 2
    assert not side_test_due(False, 1, 0, cfg)  # decided, no re-tests
    cfg3 = SideTestConfig(max_tests=4, retest_every=3)
    assert [side_test_due(False, 10, age, cfg3) for age in range(7)] == [True, False, False, True, False, False, True]
    assert [side_test_due(True, 4, age, cfg3) for age in range(4)] == [True, False, False, True]  # past max_tests
    with pytest.raises(ValueError):
        SideTestConfig(retest_every=-1)


def _run_switch(retest_every: int, side_window: int, frames: int = 14, switch_at: int = 4):
    """A left hand's track, decided LEFT; from frame ``switch_at`` on the oracle answers steadily only unmirrored,
    as if the track had moved onto a right hand."""
    from kpfusion_ros.model import preset

    from test_handedness import _left_frame

    f = _left_frame()
    gt = f.joints_mm[0].astype(np.float64)
    model = SideOracle(gt, f.width, left=True)
    pipe = HandPosePipeline(PipelineConfig(device="cpu", refine_iterations=0,
                                           tracker=replace(TrackerConfig(), side_source="stability",
                                                           side_window=side_window, min_side_estimates=1),
                                           side_test=SideTestConfig(retest_every=retest_every)),
                            model=model, model_cfg=preset("lite"))
    c0 = gt.mean(0)
    pipe.localizer.localize = (lambda depth, cam, c0=c0: [HandCandidate(
        centre_mm=c0, bbox=(0, 0, 10, 10), pixel_count=1, mean_depth_mm=c0[2], score=0.95, right_logit=0.0,
        p_right=0.5)])
    sides, seen = [], []
    for i in range(frames):
        model.left = i < switch_at
        model.crops_seen = 0
        r = pipe.process(f.color, f.depth.astype(np.float32), f.cam, stamp=0.1 * i)
        sides.append([h.handedness for h in r.hands])
        seen.append(model.crops_seen)
    return pipe, sides, seen


def test_retests_turn_a_track_that_moved_onto_the_other_hand():
    L, R = HANDEDNESS_LEFT, HANDEDNESS_RIGHT
    # without re-tests the side decided on the first frame stays, whatever the track now shows
    _, sides, seen = _run_switch(retest_every=0, side_window=0)
    assert sides[2:] == [[L]] * 12
    P = 2 * perturbations(SideTestConfig())[0].shape[0]
    assert seen == [1 + P] + [1] * 13
    # re-tested every other frame over a window of 3 estimates: right once two right tests are in the window
    pipe, sides, seen = _run_switch(retest_every=2, side_window=3)
    assert seen == [1 + P if i % 2 == 0 else 1 for i in range(14)]
    assert sides[2:4] == [[L], [L]]
    first_right = next(i for i, s in enumerate(sides) if s == [R])
    assert first_right == 6  # tests at frames 4 and 6 are right: 2 of the window's 3
    assert all(s == [R] for s in sides[first_right:])
    assert pipe.tracker.tracks[0].side_tests == 7
    # a whole-life mean turns too, but later: it needs more right tests than the left ones before
    _, sides_all, _ = _run_switch(retest_every=2, side_window=0)
    assert next(i for i, s in enumerate(sides_all) if s == [R]) > first_right


def test_node_parameters_of_the_retests():
    cfg = pipeline_config(replace(NodeConfig(), side_retest_every=5, side_window=10))
    assert cfg.side_test.retest_every == 5 and cfg.tracker.side_window == 10
    assert pipeline_config(NodeConfig()).side_test == SideTestConfig()
    # the defaults of docs/results/side_reset_2026-12-02/ (rule 1): re-tested every 3rd frame, a window of 10
    d = pipeline_config(NodeConfig())
    assert d.side_test.retest_every == 3 and d.tracker.side_window == 10
    assert d.tracker.side_source == "stability" and d.tracker.min_side_estimates == 10  # rule 2
    assert replace(d.tracker, side_source="stability").active_side_window == 10
    assert replace(d.tracker, side_source="verifier").active_side_window == 0
    errs = " ".join(replace(NodeConfig(), side_retest_every=-1).validate())
    assert "side_retest_every and side_window" in errs
    assert replace(NodeConfig(), side_window=-2).validate()
