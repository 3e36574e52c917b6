"""Handedness and confidence: the tracker's smoothing and decision, left hands mirrored through the pipeline
and back exactly, the published-confidence threshold (a node parameter)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from kpfusion_ros.data.synthetic import SceneConfig, SyntheticConfig, render_frame
from kpfusion_ros.joints import reorder
from kpfusion_ros.hand import HANDEDNESS_LEFT, HANDEDNESS_RIGHT, HANDEDNESS_UNKNOWN
from kpfusion_ros.localization import HandCandidate
from kpfusion_ros.model.output import KPFusionOutput
from kpfusion_ros.node_config import NodeConfig, pipeline_config
from kpfusion_ros.pipeline import HandPosePipeline, PipelineConfig
from kpfusion_ros.tracking import HandTracker, TrackerConfig, overall_confidence


def cand(x, right_logit=0.0, score=0.9, z=600.0):
    return HandCandidate(centre_mm=np.array([x, 0.0, z]), bbox=(0, 0, 10, 10), pixel_count=100,
                         mean_depth_mm=z, score=score, right_logit=right_logit,
                         p_right=1.0 / (1.0 + np.exp(-right_logit)))


#: The verifier's side path (the localiser's per-detection logit), decided by a single estimate: not the defaults
#: since 2026-12-03 (stability, 10 estimates), still a node setting.
VERIFIER = dict(side_source="verifier", min_side_estimates=1)


def test_side_is_a_running_mean_of_the_logit_weighted_by_hand_score():
    tr = HandTracker(TrackerConfig(min_hits=1, **VERIFIER))
    tr.update([cand(0.0, right_logit=-3.0, score=0.9)], 0.0)
    t = tr.tracks[0]
    assert tr.handedness(t) == (HANDEDNESS_LEFT, pytest.approx(1 / (1 + np.exp(-3.0))))
    assert t.mirrored
    # one confident wrong frame does not flip it; the mean follows the evidence
    tr.update([cand(1.0, right_logit=4.0, score=0.9)], 0.1)
    assert t.p_right == pytest.approx(1 / (1 + np.exp(-0.5)))  # mean logit (−3 + 4)/2 = 0.5 → right side
    assert tr.handedness(t)[0] == HANDEDNESS_UNKNOWN  # 0.62 < 0.75: published as unknown …
    assert not t.mirrored  # the likelier side is now right
    for i in range(4):
        tr.update([cand(2.0 + i, right_logit=4.0, score=0.9)], 0.2 + 0.1 * i)
    side, conf = tr.handedness(t)
    assert side == HANDEDNESS_RIGHT and conf > 0.9
    # logits are clipped, and a low hand score weighs little
    tr2 = HandTracker(TrackerConfig(min_hits=1, max_side_logit=2.0, **VERIFIER))
    tr2.update([cand(0.0, right_logit=50.0, score=1.0)], 0.0)
    tr2.update([cand(0.0, right_logit=-2.0, score=0.001)], 0.1)
    assert tr2.tracks[0].p_right == pytest.approx(1 / (1 + np.exp(-(2.0 - 0.002) / 1.001)), rel=1e-6)


def test_no_side_estimate_is_unknown_and_right_cropped():
    tr = HandTracker(TrackerConfig(min_hits=1))
    tr.update([np.array([0.0, 0.0, 600.0])], 0.0)  # a plain centre: no score, no side
    t = tr.tracks[0]
    assert tr.handedness(t) == (HANDEDNESS_UNKNOWN, 0.5) and not t.mirrored and t.hand_score is None


def test_overall_confidence_and_the_publishing_threshold():
    assert overall_confidence(0.81, 0.25, pose_weight=0.5) == pytest.approx(0.45)
    # a quarter weight on the pose: 0.81^0.75 · 0.25^0.25; by default (TrackerConfig, 0) the hand score alone
    assert overall_confidence(0.81, 0.25, pose_weight=0.25) == pytest.approx(0.81 ** 0.75 * 0.25 ** 0.25)
    assert overall_confidence(0.81, 0.25) == pytest.approx(0.81) and TrackerConfig().pose_confidence_weight == 0.0
    assert overall_confidence(None, 0.3, pose_weight=0.0) == pytest.approx(0.3)  # no hand score: the pose's
    assert overall_confidence(0.81, 0.25, pose_weight=1.0) == pytest.approx(0.25)
    assert overall_confidence(0.81, 0.25, pose_weight=0.0) == pytest.approx(0.81)
    assert overall_confidence(0.9, 0.3) > overall_confidence(0.5, 0.9)  # p(hand) dominates
    assert overall_confidence(None, 0.3) == pytest.approx(0.3) and overall_confidence(0.6, None) == pytest.approx(0.6)
    assert overall_confidence(None, None) == 0.0
    tr = HandTracker(TrackerConfig(min_hits=1, min_hand_confidence=0.5))
    tr.update([cand(0.0, score=0.9), cand(300.0, score=0.2)], 0.0)
    a, b = tr.tracks
    tr.update_from_pose(a.id, np.zeros((21, 3)) + a.centre_mm, 0.8)
    tr.update_from_pose(b.id, np.zeros((21, 3)) + b.centre_mm, 0.8)
    assert [t.id for t in tr.published_tracks()] == [a.id]  # 0.2^0.75 · 0.8^0.25 = 0.28 < 0.5 <= 0.87
    with pytest.raises(ValueError):
        TrackerConfig(min_hand_confidence=1.5)
    # the node parameter reaches the tracker
    pc = pipeline_config(replace(NodeConfig(), min_hand_confidence=0.42))
    assert pc.tracker.min_hand_confidence == 0.42
    assert "min_hand_confidence must be in [0, 1]" in " ".join(replace(NodeConfig(), min_hand_confidence=2.0).validate())


class OracleModel(torch.nn.Module):
    """Returns the GT joints in the crop's frame: what a perfect network trained on mirrored left hands gives."""

    def __init__(self, joints_mm: np.ndarray, width: int):
        super().__init__()
        self.joints = torch.from_numpy(np.asarray(joints_mm, np.float64))
        self.width = width
        self.mirrored = None

    def forward(self, rgb, depth, pcl, center, M, cube, cam):
        from kpfusion_ros.geometry import mirror_points_mm

        j = self.joints.to(center.dtype).unsqueeze(0).expand(center.shape[0], -1, -1)
        jm = mirror_points_mm(j, cam, self.width)
        j = torch.where(self.mirrored.view(-1, 1, 1), jm, j)
        xyz = (j - center[:, None, :]) / (cube[:, None, :] / 2)
        return KPFusionOutput(maps=[], poses=[xyz], whm=[], initial=xyz, initial_uvd=xyz)


def _left_frame():
    scene = SceneConfig(num_hands=1, p_left=1.0, clutter=(0, 0), p_occluder=0.0, p_near_object=0.0, p_grasp=0.0,
                        p_edge=0.0, p_table=0.0, views=(1.0, 0.0, 0.0))
    f = render_frame(31, 0, SyntheticConfig(width=320, height=240, clean=True, scene=scene))
    assert f.handedness == ("left",)
    return f


def test_left_hand_mirrored_through_the_network_and_back_exactly():
    from kpfusion_ros.model import preset

    f = _left_frame()
    gt = f.joints_mm[0].astype(np.float64)
    oracle = OracleModel(gt, f.width)
    pipe = HandPosePipeline(PipelineConfig(device="cpu", refine_iterations=0), model=oracle, model_cfg=preset("lite"))
    centre = gt.mean(0, keepdims=True) + np.array([[12.0, -7.0, 9.0]])
    for mirror in (True, False):
        oracle.mirrored = torch.tensor([mirror])
        joints_m, pixels, _, _, batch = pipe.estimate(f.color, f.depth.astype(np.float32), f.cam, centre, [mirror])
        assert bool(batch.mirrored[0]) == mirror
        assert np.allclose(joints_m[0] * 1000.0, gt, atol=1e-3)  # float32 crop arithmetic; exact up to rounding
        fx, fy, cx, cy = f.cam
        assert np.allclose(pixels[0, :, 0], gt[:, 0] * fx / gt[:, 2] + cx, atol=1e-3)


def _detect_near(pipe, gt, right_logit, p_right):
    """The pipeline's localiser finds one hand near the labelled one (score 0.95), with this side estimate."""
    c0 = gt.mean(0)
    pipe.localizer.localize = (lambda depth, cam: [HandCandidate(
        centre_mm=c0 + np.array([5.0, 5.0, -20.0]), bbox=(0, 0, 10, 10), pixel_count=1, mean_depth_mm=c0[2],
        score=0.95, right_logit=right_logit, p_right=p_right)])


def test_pipeline_mirrors_left_tracks_and_publishes_their_side():
    """A localiser that says 'left': the track is LEFT, its crop mirrored, its joints back in the real frame."""
    from kpfusion_ros.model import preset

    f = _left_frame()
    gt = f.joints_mm[0].astype(np.float64)
    oracle = OracleModel(gt, f.width)
    pipe = HandPosePipeline(PipelineConfig(device="cpu", refine_iterations=1, tracker=TrackerConfig(**VERIFIER)),
                            model=oracle, model_cfg=preset("lite"))
    _detect_near(pipe, gt, right_logit=-4.0, p_right=0.018)
    oracle.mirrored = torch.tensor([True])
    for i in range(3):
        r = pipe.process(f.color, f.depth.astype(np.float32), f.cam, stamp=0.1 * i)
    assert len(r.hands) == 1
    h = r.hands[0]
    assert h.handedness == HANDEDNESS_LEFT and h.mirrored and h.handedness_confidence > 0.95
    assert h.hand_score == pytest.approx(0.95)
    assert np.allclose(h.joints_m * 1000.0, reorder(gt, "network", "public"), atol=1e-3)
    assert 0.0 <= h.confidence <= 1.0


def test_crop_side_mirrors_an_undecided_hand_only_with_likelier():
    """crop_side: 'decided' mirrors a hand once it is published LEFT; 'likelier' whenever its side mean leans left."""
    for policy, want in (("decided", False), ("likelier", True)):
        tr = HandTracker(TrackerConfig(min_hits=1, crop_side=policy, **VERIFIER))
        assert not tr.crop_mirrored(_tracked(tr, None))  # no side estimate: a right hand either way
        tr.reset()
        t = _tracked(tr, -0.5)  # p(left) 0.62 < 0.75: UNKNOWN, leaning left
        assert tr.handedness(t)[0] == HANDEDNESS_UNKNOWN
        assert tr.crop_mirrored(t) is want, policy
        tr.add_side_evidence(t, -6.0, 0.9)  # now decided LEFT: mirrored under both
        assert tr.handedness(t)[0] == HANDEDNESS_LEFT and tr.crop_mirrored(t)
        tr.add_side_evidence(t, 6.0, 0.9)
        tr.add_side_evidence(t, 6.0, 0.9)  # leaning right again: no policy mirrors it
        assert not tr.crop_mirrored(t)
    with pytest.raises(ValueError):
        TrackerConfig(crop_side="sometimes")
    assert pipeline_config(replace(NodeConfig(), crop_side="likelier")).tracker.crop_side == "likelier"
    assert "crop_side must be one of" in " ".join(replace(NodeConfig(), crop_side="x").validate())


def _tracked(tr: HandTracker, right_logit):
    tr.update([cand(0.0, right_logit=0.0 if right_logit is None else right_logit, score=0.9)], 0.0)
    return tr.tracks[0]


def test_pipeline_with_likelier_mirrors_an_unknown_left_leaning_hand_and_publishes_it_unknown():
    from kpfusion_ros.model import preset

    f = _left_frame()
    gt = f.joints_mm[0].astype(np.float64)
    oracle = OracleModel(gt, f.width)
    for policy, mirrored in (("decided", False), ("likelier", True)):
        tcfg = TrackerConfig(crop_side=policy, **VERIFIER)
        pipe = HandPosePipeline(PipelineConfig(device="cpu", refine_iterations=0, tracker=tcfg), model=oracle,
                                model_cfg=preset("lite"))
        _detect_near(pipe, gt, right_logit=-0.5, p_right=0.38)
        oracle.mirrored = torch.tensor([mirrored])
        for i in range(3):
            r = pipe.process(f.color, f.depth.astype(np.float32), f.cam, stamp=0.1 * i)
        h = r.hands[0]
        assert h.handedness == HANDEDNESS_UNKNOWN and h.mirrored is mirrored, policy
        # the oracle answers in the crop's own frame, so the joints come back exact only when the crop was cut
        # the way the oracle was told: the pipeline mirrored it (likelier) or not (decided)
        assert np.allclose(h.joints_m * 1000.0, reorder(gt, "network", "public"), atol=1e-3), policy


def test_centre_score_is_a_running_mean_and_a_weighted_share_of_the_confidence():
    # the three-input geometric mean, its weights, and inputs that drop out
    assert overall_confidence(0.9, 0.5, 0.0, 0.4, 0.5) == pytest.approx((0.9 * 0.4) ** 0.5)
    assert overall_confidence(0.9, 0.5, 0.25, 0.4, 0.5) == pytest.approx(0.9 ** 0.25 * 0.5 ** 0.25 * 0.4 ** 0.5)
    assert overall_confidence(0.9, 0.5, 0.0, 0.4, 1.0) == pytest.approx(0.4)
    assert overall_confidence(0.9, None, 0.0, None, 0.5) == pytest.approx(0.9)  # no centre score yet: the hand score
    assert overall_confidence(0.9, 0.5, 0.0, None, 1.0) == pytest.approx((0.9 * 0.5) ** 0.5)  # weights all 0: equal
    assert overall_confidence(None, None, 0.0, 0.3, 0.0) == pytest.approx(0.3)
    assert overall_confidence(0.9, 0.5, 0.0, 0.4) == pytest.approx(0.9 ** (1 - TrackerConfig.centre_score_weight)
                                                                     * 0.4 ** TrackerConfig.centre_score_weight)
    with pytest.raises(ValueError):
        overall_confidence(0.9, 0.5, 0.6, 0.4, 0.6)
    with pytest.raises(ValueError):
        TrackerConfig(pose_confidence_weight=0.5, centre_score_weight=0.6)
    # the tracker: a running mean of the scores given with the poses, whatever their confidence; NaN adds nothing
    tr = HandTracker(TrackerConfig(min_hits=1, centre_score_weight=0.5, min_hand_confidence=0.5))
    tr.update([cand(0.0, score=0.9)], 0.0)
    t = tr.tracks[0]
    assert t.centre_score is None and tr.confidence(t) == pytest.approx(0.9)
    for s, conf in ((0.2, 0.9), (0.4, 0.1), (float("nan"), 0.9)):
        tr.update_from_pose(t.id, np.zeros((21, 3)) + t.centre_mm, conf, s)
    assert (t.centre_score_count, t.centre_score) == (2, pytest.approx(0.3))
    assert tr.confidence(t) == pytest.approx((0.9 * 0.3) ** 0.5)  # 0.52
    assert [p.id for p in tr.published_tracks()] == [t.id]
    tr.update_from_pose(t.id, np.zeros((21, 3)) + t.centre_mm, 0.9, 0.0)  # mean 0.2: 0.42 < 0.5
    assert tr.published_tracks() == []


def test_pipeline_scores_each_pose_centre_with_the_verifier():
    """The pipeline's second look: the verifier at each final pose's joint mean, fed to the track, published in
    ``extras['centre_score']`` (the track's mean) and timed; on a rendered hand it is the verifier's p(hand) at
    that joint mean, recomputed here with the localiser's own function."""
    from kpfusion_ros.tracking import joint_mean

    cfg = SyntheticConfig(width=320, height=240, scene=replace(SceneConfig(), num_hands=1))
    frames = [render_frame(7, i, cfg) for i in range(4)]
    pc = PipelineConfig(model_path="random:lite", refine_iterations=1,
                        tracker=TrackerConfig(min_hits=1, min_hand_confidence=0.0))
    pipe = HandPosePipeline(pc)
    assert pipe.localizer.verifier is not None
    seen = []
    for k, f in enumerate(frames):
        res = pipe.process(f.color, f.depth.astype(np.float32), f.cam, stamp=0.1 * k)
        assert "centre_score" in res.timings_ms
        for h in res.hands:
            tr = pipe.tracker.get(h.track_id)
            assert h.extras["centre_score"] == pytest.approx(tr.centre_score)
            s = pipe.localizer.score_at(f.depth.astype(np.float32), f.cam, joint_mean(h.joints_m * 1000.0)[None])
            seen.append((tr.centre_score_count, tr.centre_score_sum, float(s[0])))
    assert seen, "no hand was published on four rendered single-hand frames"
    # the last score of a track that has one is the verifier's p(hand) at that frame's joint mean
    count, total, last = seen[0]
    assert count == 1 and total == pytest.approx(last, abs=1e-6)
    # no verifier: no centre score, the confidence is the hand score's
    loc = pipe.localizer
    assert loc.score_at(frames[0].depth, frames[0].cam, np.zeros((0, 3))).shape == (0,)
    loc.verifier = None
    assert loc.score_at(frames[0].depth, frames[0].cam, np.zeros((1, 3))) is None
