"""Hand tracker: ids, association, hysteresis, pose feedback, time jumps."""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from kpfusion_ros.localization import HandCandidate
from kpfusion_ros.tracking import HandTracker, Track, TrackerConfig, joint_mean, linear_assignment, refine_centres


def det(x, y=0.0, z=600.0, bbox=(10, 20, 30, 40)):
    return HandCandidate(centre_mm=np.array([x, y, z], float), bbox=bbox, pixel_count=100,
                         mean_depth_mm=z, score=1.0)


def ids(tracks):
    return [t.id for t in tracks]


def test_stable_ids_with_small_motion():
    tr = HandTracker(TrackerConfig(min_hits=1))
    out = tr.update([det(0.0), det(200.0)], stamp=0.0)
    first = ids(out)
    assert first == [1, 2]
    for k in range(1, 30):
        out = tr.update([det(200.0 + 10 * k, 5.0 * k), det(0.0 + 10 * k)], stamp=k / 30)
        assert ids(out) == first
    by_id = {t.id: t for t in out}
    assert np.allclose(by_id[1].centre_mm, [290.0, 0.0, 600.0])
    assert np.allclose(by_id[2].centre_mm, [490.0, 145.0, 600.0])
    assert by_id[1].bbox == (10, 20, 30, 40) and by_id[1].age == 29 and by_id[1].hits == 30


def test_crossing_hands_keep_ids():
    tr = HandTracker(TrackerConfig(min_hits=1, gate_mm=80.0))
    # Same depth, 60 mm apart vertically, crossing in x at 20 mm per frame.
    for k in range(21):
        a = det(-200.0 + 20 * k, 0.0)
        b = det(200.0 - 20 * k, 60.0)
        dets = [a, b] if k % 2 else [b, a]  # detection order must not matter
        out = tr.update(dets, stamp=float(k))
        by_id = {t.id: t.centre_mm for t in out}
        assert set(by_id) == {1, 2}
        # Created at k = 0 in the order [b, a]: b is 1, a is 2.
        assert np.allclose(by_id[2], a.centre_mm) and np.allclose(by_id[1], b.centre_mm)
    # Paths crossing in the image at different depths: 3D distance keeps them apart.
    tr = HandTracker(TrackerConfig(min_hits=1))
    for k in range(21):
        a = det(-200.0 + 20 * k, 0.0, 500.0)
        b = det(200.0 - 20 * k, 0.0, 650.0)
        out = tr.update([b, a], stamp=float(k))
        by_id = {t.id: t.centre_mm for t in out}
        assert np.allclose(by_id[1], b.centre_mm) and np.allclose(by_id[2], a.centre_mm)


def test_gate_creates_new_track_for_jumps():
    # fixed gate (no speed term): 100 mm > 80 mm, the old track is dropped, a new id starts
    tr = HandTracker(TrackerConfig(min_hits=1, max_misses=0, gate_mm=80.0, gate_speed_mm_s=0.0))
    tr.update([det(0.0)], 0.0)
    out = tr.update([det(100.0)], 0.1)
    assert ids(out) == [2]
    # default: the gate grows by 1 m/s × the time since the last detection: 80 + 100 mm after 0.1 s
    tr = HandTracker(TrackerConfig(min_hits=1, max_misses=0))
    tr.update([det(0.0)], 0.0)
    assert tr.gate_for(tr.tracks[0], 0.1) == pytest.approx(180.0)
    assert ids(tr.update([det(100.0)], 0.1)) == [1]  # a hand moving 1 m/s, seen at 10 Hz: same track
    assert ids(tr.update([det(300.0)], 0.2)) == [2]  # 200 mm in 0.1 s: beyond the gate
    # the gate is capped, and without stamps it is gate_mm
    assert tr.gate_for(tr.tracks[0], 100.0) == pytest.approx(300.0)
    assert tr.gate_for(tr.tracks[0], None) == pytest.approx(80.0)


def test_growing_gate_keeps_two_hands_apart():
    """A wide gate (frames far apart) does not swap two hands: the assignment minimises distance."""
    tr = HandTracker(TrackerConfig(min_hits=1))
    tr.update([det(0.0), det(200.0)], 0.0)
    out = tr.update([det(260.0), det(60.0)], 0.25)  # both moved +60 mm; gates are 300 mm
    by_x = {t.id: float(t.centre_mm[0]) for t in out}
    assert by_x == {1: pytest.approx(60.0), 2: pytest.approx(260.0)}


def test_a_coasting_track_does_not_take_a_nearer_tracks_detection():
    """The case from sequence 405, frame 81: one detection, reached by a near track with a
    normal gate and by a far track whose gate has grown while it coasted. The near one gets it."""
    tr = HandTracker(TrackerConfig(min_hits=1, gate_mm=80.0, gate_speed_mm_s=1000.0, max_misses=10))
    tr.update([det(0.0), det(130.0)], 0.0)  # track 1 at x = 0, track 2 at x = 130
    for k in range(1, 5):  # track 1 coasts (no detection near it); track 2 is seen every frame
        tr.update([det(130.0)], 0.033 * k)
    stamp = 0.033 * 5
    t1, t2 = sorted(tr.tracks, key=lambda t: t.id)
    g1, g2 = tr.gate_for(t1, stamp), tr.gate_for(t2, stamp)
    x = 90.0  # 40 mm from track 2, 90 mm from track 1: within both gates
    assert abs(x - t2.centre_mm[0]) < abs(x - t1.centre_mm[0]) < g2 < g1
    # charged by its own gate, leaving track 1 out would cost more than the 50 mm it loses
    assert (g1 - g2) / 2 > abs(x - t1.centre_mm[0]) - abs(x - t2.centre_mm[0])
    out = tr.update([det(x)], stamp)
    by_id = {t.id: float(t.centre_mm[0]) for t in out}
    assert by_id[2] == pytest.approx(x)  # the near track took it
    assert by_id[1] == pytest.approx(0.0)  # the far one keeps coasting where it was


def test_confirmation_hysteresis():
    tr = HandTracker(TrackerConfig(min_hits=3, max_misses=2))
    assert tr.update([det(0.0)], 0.0) == []
    assert len(tr.tracks) == 1 and not tr.tracks[0].confirmed
    assert tr.update([det(5.0)], 0.1) == []
    assert ids(tr.update([det(10.0)], 0.2)) == [1]  # third consecutive hit
    # A tentative track that misses once is dropped; its id is not reused.
    tr.update([det(10.0), det(300.0)], 0.3)
    assert ids(tr.tracks) == [1, 2]
    tr.update([det(10.0)], 0.4)
    assert ids(tr.tracks) == [1]
    tr.update([det(10.0), det(300.0)], 0.5)
    assert ids(tr.tracks) == [1, 3]
    # predicted centres include tentative tracks unless asked otherwise.
    assert set(tr.predicted_centres()) == {1, 3}
    assert set(tr.predicted_centres(confirmed_only=True)) == {1}


def test_deletion_after_max_misses_not_before():
    tr = HandTracker(TrackerConfig(min_hits=1, max_misses=3))
    tr.update([det(0.0)], 0.0)
    for k in range(1, 4):  # three misses: still alive (coasting)
        out = tr.update([], float(k))
        assert ids(out) == [1] and out[0].misses == k
    assert tr.update([det(0.0)], 4.0)[0].misses == 0  # a hit resets the counter
    for k in range(5, 8):
        assert ids(tr.update([], float(k))) == [1]
    assert tr.update([], 8.0) == []  # fourth consecutive miss
    assert tr.tracks == []
    assert ids(tr.update([det(0.0)], 9.0)) == [2]


def test_ids_never_reused():
    rng = np.random.default_rng(0)
    tr = HandTracker(TrackerConfig(min_hits=1, max_misses=1))
    seen: list[int] = []
    for k in range(200):
        dets = [det(*rng.uniform(-400, 400, 2)) for _ in range(rng.integers(0, 3))]
        for t in tr.update(dets, float(k)):
            if t.id not in seen:
                seen.append(t.id)
        if k == 100:
            tr.reset()
    assert seen == sorted(seen) and len(seen) == len(set(seen))
    tr.reset(reset_ids=True)
    assert ids(tr.update([det(0.0)], 0.0)) == [1]


def test_time_going_backwards_resets():
    tr = HandTracker(TrackerConfig(min_hits=1))
    tr.update([det(0.0)], 10.0)
    tr.update([det(0.0)], 10.0)  # equal stamp is fine
    assert ids(tr.tracks) == [1]
    out = tr.update([det(0.0)], 5.0)  # bag loop
    assert ids(out) == [2] and out[0].hits == 1
    assert ids(tr.update([det(0.0)], 5.1)) == [2]
    # Optional forward gap limit.
    tr = HandTracker(TrackerConfig(min_hits=1, max_gap_s=1.0))
    tr.update([det(0.0)], 0.0)
    assert ids(tr.update([det(0.0)], 0.5)) == [1]
    assert ids(tr.update([det(0.0)], 5.0)) == [2]
    # No stamps: no checks.
    tr = HandTracker(TrackerConfig(min_hits=1))
    tr.update([det(0.0)])
    assert ids(tr.update([det(1.0)])) == [1]


def test_pose_feedback_recentres_and_learns_offset():
    tr = HandTracker(TrackerConfig(min_hits=1))
    tr.update([det(0.0)], 0.0)
    joints = np.random.default_rng(1).normal(size=(21, 3)) * 20 + np.array([0.0, 0.0, 615.0])
    assert tr.update_from_pose(1, joints, 0.9)
    assert np.allclose(tr.predicted_centres()[1], joints.mean(axis=0))
    # Next frame the detection (front surface) moved by +30 mm in x: the crop centre is
    # the detection plus the learnt (joint mean - detection) offset.
    out = tr.update([det(30.0)], 0.1)
    assert np.allclose(out[0].centre_mm, np.array([30.0, 0.0, 600.0]) + (joints.mean(axis=0) - [0.0, 0.0, 600.0]))
    # Coasting (no detection): the pose alone moves the centre.
    tr.update([], 0.2)
    assert tr.update_from_pose(1, joints + [40.0, 0.0, 0.0], 0.9)
    assert np.allclose(tr.get(1).centre_mm, joints.mean(axis=0) + [40.0, 0.0, 0.0])
    assert not tr.update_from_pose(99, joints, 1.0)


def test_low_confidence_drops_a_coasting_track():
    tr = HandTracker(TrackerConfig(min_hits=1, max_low_confidence=3, min_pose_confidence=0.3, max_misses=10))
    tr.update([det(0.0)], 0.0)
    tr.update([], 0.033)  # no detection: the track coasts on its poses
    centre = tr.get(1).centre_mm.copy()
    joints = np.tile([500.0, 0.0, 600.0], (21, 1))  # far away and low confidence: ignored
    assert tr.update_from_pose(1, joints, 0.1)
    assert np.allclose(tr.get(1).centre_mm, centre)
    assert tr.update_from_pose(1, np.full((21, 3), np.nan), 0.9)  # non-finite: bad
    assert tr.update_from_pose(1, np.tile([0.0, 0.0, 610.0], (21, 1)), 0.9)  # good: counter reset
    for k in range(2):
        assert tr.update_from_pose(1, joints, 0.05)
    assert not tr.update_from_pose(1, joints, 0.05)  # third bad pose in a row
    assert tr.tracks == [] and tr.update([], 0.1) == []


def test_doubtful_poses_do_not_end_a_detected_track():
    # min_hand_confidence 0: this test is about ending tracks on doubtful poses, not about the published-confidence
    # gate (test_handedness.py tests that), whatever share of the confidence the pose has
    cfg = TrackerConfig(min_hits=1, max_low_confidence=3, min_pose_confidence=0.3, min_hand_confidence=0.0)
    tr = HandTracker(cfg)
    joints = np.tile([0.0, 0.0, 620.0], (21, 1))
    t = 0.0
    for _ in range(10):  # detected every frame, pose always below min_pose_confidence
        tr.update([det(0.0)], t)
        assert tr.update_from_pose(1, joints, 0.1)
        t += 0.033
    track = tr.get(1)
    assert track is not None and track.low_confidence == 0
    assert [p.id for p in tr.published_tracks()] == [1]
    assert np.allclose(track.centre_mm, [0.0, 0.0, 600.0])  # the doubtful poses never moved it
    # once the detections stop, the same doubtful poses end it after max_low_confidence frames
    for k in range(cfg.max_low_confidence):
        tr.update([], t)
        alive = tr.update_from_pose(1, joints, 0.1)
        assert alive == (k < cfg.max_low_confidence - 1)
        t += 0.033
    assert tr.tracks == []


def test_joint_mean_ignores_non_finite_joints():
    rng = np.random.default_rng(0)
    j = rng.normal(size=(21, 3)) * 30 + np.array([10.0, -20.0, 600.0])
    assert np.allclose(joint_mean(j), j.mean(axis=0))
    j[3, 1] = np.nan  # one bad coordinate drops the whole joint
    assert np.allclose(joint_mean(j), np.delete(j, 3, axis=0).mean(axis=0))
    assert np.isnan(joint_mean(np.full((21, 3), np.nan))).all()
    # batched: K×J×3 → K×3, each pose on its own
    batch = np.stack([j, np.full((21, 3), np.inf), j + 5.0])
    m = joint_mean(batch)
    assert m.shape == (3, 3) and np.allclose(m[0], joint_mean(j)) and np.allclose(m[2], joint_mean(j) + 5.0)
    assert np.isnan(m[1]).all()


def test_refine_centres_moves_only_confident_poses_with_a_finite_mean():
    centres = np.array([[0.0, 0.0, 500.0], [100.0, 0.0, 500.0], [200.0, 0.0, 500.0]])
    joints = np.stack([np.tile(c + [5.0, -3.0, 20.0], (21, 1)) for c in centres])
    joints[2] = np.nan
    conf = np.array([0.5, 0.1, 0.9], np.float32)
    out = refine_centres(centres, joints, conf, min_confidence=0.2)
    assert np.allclose(out[0], centres[0] + [5.0, -3.0, 20.0])  # confident: at its joint mean
    assert np.array_equal(out[1], centres[1])  # below the threshold: keeps its crop
    assert np.array_equal(out[2], centres[2])  # no finite joint: keeps its crop
    assert np.allclose(refine_centres(centres, joints, conf, min_confidence=0.0)[1], centres[1] + [5.0, -3.0, 20.0])
    # the threshold is inclusive
    assert np.allclose(refine_centres(centres, joints, conf, min_confidence=0.5)[0], out[0])


def test_published_tracks_are_confirmed_and_coasting_ones_need_confidence():
    # min_hand_confidence 0: this test is about confirmation and coasting, not about the published-confidence gate
    # (test_handedness.py tests that), whatever share of the confidence the pose has
    tr = HandTracker(TrackerConfig(min_hits=2, min_coast_confidence=0.4, min_hand_confidence=0.0))
    tr.update([det(0.0), det(300.0)], 0.0)
    assert tr.published_tracks() == []  # tentative
    tr.update([det(0.0), det(300.0)], 0.1)
    tr.update_from_pose(1, np.tile([0.0, 0.0, 600.0], (21, 1)), 0.1)  # matched: published at any confidence
    tr.update_from_pose(2, np.tile([300.0, 0.0, 600.0], (21, 1)), 0.9)
    assert ids(tr.published_tracks()) == [1, 2]
    tr.update([], 0.2)  # both coast: only the confident pose is reported
    tr.update_from_pose(1, np.tile([0.0, 0.0, 600.0], (21, 1)), 0.39)
    tr.update_from_pose(2, np.tile([300.0, 0.0, 600.0], (21, 1)), 0.4)
    assert ids(tr.published_tracks()) == [2]
    assert ids(tr.confirmed_tracks()) == [1, 2]


def test_confidence_thresholds_are_checked():
    for name in ("min_pose_confidence", "min_refine_confidence", "min_coast_confidence"):
        with pytest.raises(ValueError, match=name):
            TrackerConfig(**{name: 1.5})


def test_duplicates_merge_and_max_tracks():
    tr = HandTracker(TrackerConfig(min_hits=1, merge_mm=40.0, max_tracks=2))
    tr.update([det(0.0), det(100.0), det(300.0)], 0.0)
    assert ids(tr.tracks) == [1, 2]
    # Both poses converge on the same hand: the younger track goes.
    tr.update_from_pose(1, np.tile([50.0, 0.0, 600.0], (21, 1)), 0.9)
    tr.update_from_pose(2, np.tile([60.0, 0.0, 600.0], (21, 1)), 0.9)
    assert ids(tr.tracks) == [1]


def test_a_coasting_duplicate_gives_way_to_a_matched_track_with_merge_keeps_matched():
    """One hand passes behind the other: the hidden hand's track (older) coasts, its crop is filled by the hand in
    front, and its pose pulls it onto that hand. "older" keeps it and deletes the track that holds the detection;
    "matched" (the default since docs/results/merge_2026-12-03/) keeps the matched track."""
    for keeps, survivor in (("older", 1), ("matched", 2), (None, 2)):
        kw = {} if keeps is None else {"merge_keeps": keeps}
        tr = HandTracker(TrackerConfig(min_hits=1, merge_mm=40.0, **kw))
        tr.update([det(100.0, z=700.0), det(150.0)], 0.0)  # track 1 behind, track 2 in front
        assert ids(tr.tracks) == [1, 2]
        tr.update([det(150.0)], 0.033)  # only the front hand is detected: track 2 matched, track 1 coasts
        assert [t.matched for t in tr.tracks] == [False, True]
        tr.update_from_pose(2, np.tile([150.0, 0.0, 600.0], (21, 1)), 0.9)
        tr.update_from_pose(1, np.tile([140.0, 0.0, 610.0], (21, 1)), 0.9)  # pulled onto the front hand
        assert ids(tr.tracks) == [survivor], keeps
    with pytest.raises(ValueError, match="merge_keeps"):
        TrackerConfig(merge_keeps="newest")


def test_merge_keeps_stayed_keeps_the_track_that_was_there():
    """The demo's switch (docs/results/merge_2026-12-03/): the hidden hand's track (1) is matched to the one
    detection, and its pose, cut from a crop the hand in front fills, pulls it onto that hand, whose own track (2)
    coasts where it was. "older" and "matched" keep the track that arrived; "stayed" keeps the one that stayed."""
    for keeps, survivor in (("older", 1), ("matched", 1), ("stayed", 2)):
        tr = HandTracker(TrackerConfig(min_hits=1, merge_mm=40.0, merge_keeps=keeps))
        tr.update([det(100.0, z=700.0), det(40.0)], 0.0)  # track 1 behind, track 2 in front
        tr.update([det(90.0, z=690.0)], 0.033)  # only the hidden hand is detected: track 1 matched, 2 coasts
        assert [t.matched for t in tr.tracks] == [True, False]
        tr.update_from_pose(2, np.tile([42.0, 0.0, 600.0], (21, 1)), 0.9)  # stays on its hand
        assert tr.get(2).moved_mm == pytest.approx(2.0)
        tr.update_from_pose(1, np.tile([60.0, 0.0, 620.0], (21, 1)), 0.9)  # pulled onto the front hand
        assert tr.get(survivor) is not None and len(tr.tracks) == 1, keeps
    # the coasting track pulled onto a matched one: "stayed" keeps the matched one, as "matched" does
    tr = HandTracker(TrackerConfig(min_hits=1, merge_mm=40.0, merge_keeps="stayed"))
    tr.update([det(100.0, z=700.0), det(150.0)], 0.0)
    tr.update([det(150.0)], 0.033)
    tr.update_from_pose(2, np.tile([150.0, 0.0, 600.0], (21, 1)), 0.9)
    tr.update_from_pose(1, np.tile([140.0, 0.0, 610.0], (21, 1)), 0.9)
    assert ids(tr.tracks) == [2]
    # a new track has moved 0 in its first frame; a tentative one still gives way to a confirmed one
    tr = HandTracker(TrackerConfig(min_hits=2, merge_mm=40.0, merge_keeps="stayed"))
    tr.update([det(0.0)], 0.0)
    tr.update([det(30.0)], 0.033)
    assert tr.tracks[0].confirmed and tr.tracks[0].moved_mm == pytest.approx(30.0)
    tr.update([det(60.0), det(400.0)], 0.066)
    tr.update_from_pose(1, np.tile([390.0, 0.0, 600.0], (21, 1)), 0.9)  # rejected: a jump past max_pose_jump_mm
    assert ids(tr.tracks) == [1, 2] and not tr.get(2).confirmed and tr.get(2).moved_mm == 0.0


def test_merge_keeps_matched_unless_jumped_lets_a_jumped_track_give_way():
    """"matched_unless_jumped": the track that moved at least merge_mm more this frame gives way (the demo's
    switch: it keeps the track that stayed, as "stayed" does); otherwise the matched one is kept, as "matched"."""
    cfg = TrackerConfig(min_hits=1, merge_mm=40.0, merge_keeps="matched_unless_jumped")
    # the demo's switch (as in the "stayed" test): track 1, matched, is pulled ~89 mm onto the front hand; 2 moved 2
    tr = HandTracker(cfg)
    tr.update([det(100.0, z=700.0), det(40.0)], 0.0)
    tr.update([det(90.0, z=690.0)], 0.033)
    tr.update_from_pose(2, np.tile([42.0, 0.0, 600.0], (21, 1)), 0.9)
    tr.update_from_pose(1, np.tile([60.0, 0.0, 620.0], (21, 1)), 0.9)
    assert ids(tr.tracks) == [2]
    # two tracks that moved about as much (30 and 20 mm) meet: the matched one stays, although it moved more
    for keeps, survivor in (("matched_unless_jumped", 1), ("stayed", 2)):
        tr = HandTracker(replace(cfg, merge_keeps=keeps))
        tr.update([det(0.0), det(80.0)], 0.0)
        tr.update([det(30.0)], 0.033)  # track 1 matched (moved 30), track 2 coasts
        assert [t.matched for t in tr.tracks] == [True, False]
        tr.update_from_pose(2, np.tile([60.0, 0.0, 600.0], (21, 1)), 0.9)  # moved 20, now 30 from track 1
        assert ids(tr.tracks) == [survivor], keeps


def test_merge_keeps_is_a_node_parameter():
    from kpfusion_ros.node_config import NodeConfig, pipeline_config

    assert NodeConfig().merge_keeps == TrackerConfig().merge_keeps == "matched"
    assert pipeline_config(replace(NodeConfig(), merge_keeps="stayed")).tracker.merge_keeps == "stayed"
    assert "merge_keeps must be one of older, matched, stayed, matched_unless_jumped" in " ".join(
        replace(NodeConfig(), merge_keeps="newest").validate())


def test_plain_vector_detections_and_nan_ignored():
    tr = HandTracker(TrackerConfig(min_hits=1))
    out = tr.update([np.array([0.0, 0.0, 500.0]), [np.nan, 0.0, 0.0]], 0.0)
    assert ids(out) == [1] and out[0].bbox is None
    assert isinstance(out[0], Track)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 5), st.integers(1, 5), st.integers(0, 10_000))
def test_linear_assignment_is_optimal(n, m, seed):
    if n > m:
        n, m = m, n
    cost = np.random.default_rng(seed).uniform(0, 100, (n, m))
    got = linear_assignment(cost.tolist())
    assert len(set(got)) == n
    best = min(sum(cost[i, p[i]] for i in range(n)) for p in itertools.permutations(range(m), n))
    assert sum(cost[i, got[i]] for i in range(n)) == pytest.approx(best)
