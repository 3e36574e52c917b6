"""Multi-hand tracking: stable ids, hysteresis, pose feedback for the crop centres, and what is published.

Every tracking decision of the pipeline is made here. Per frame the pipeline
(:class:`kpfusion_ros.pipeline.HandPosePipeline`) does::

    dets = localizer.localize(depth, K)              # kpfusion_ros.localization
    tracker.update(dets, stamp)                      # associate, create, delete
    centres = tracker.predicted_centres()            # one crop per live track
    joints, conf = run_network(crop_at(centres))
    for _ in range(refine_iterations):               # re-crop at the joint mean, run again
        centres = refine_centres(centres, joints, conf, config.min_refine_confidence)
        joints, conf = run_network(crop_at(centres))
    for tid in centres:
        tracker.update_from_pose(tid, joints, conf)  # centre := joint mean
    publish(tracker.published_tracks())

Units: millimetres, camera frame (x right, y down, z forward); ``stamp`` in seconds
(any monotonic float; the ROS layer converts its ``Time``).

Rules (all in :class:`TrackerConfig`):

* association: tracks (at their current centre) and detections are matched by 3D
  distance with an optimal assignment (Hungarian on the small matrix, pure Python),
  pairs farther than the track's gate never match: ``gate_mm`` plus ``gate_speed_mm_s``
  × the time since the track's last detection, at most ``max_gate_mm``; the gate only
  allows pairs: among the allowed ones the matching maximises the pairs, then minimises
  their summed distance, so a coasting track's wider gate does not win it a detection a
  nearer track reaches (``docs/results/match_cost_2026-12-03/``) (a node that
  drops frames sees the hand move further between the frames it processes: on the demo
  recording, processing every 4th frame, a fixed 80 mm gate found 13 of 34 hands, this
  one 21: ``kpfusion-bag data/demo/kpfusion_demo OUT --every 4 --score``, with and without
  ``--param max_hand_speed=0``);
* a matched track moves to the detection centre plus the offset last learnt between
  the pose centre (joint mean) and the detection centre (``use_pose_offset``), so the
  crop follows the motion *and* stays on the joint mean the network was trained with
  (the localiser sees the front surface, the joints lie behind it);
* an unmatched detection starts a *tentative* track; it is *confirmed* after
  ``min_hits`` consecutive matched frames (counting its creation). A tentative track
  that misses once is deleted; a confirmed track survives up to ``max_misses``
  consecutive frames without a detection and is deleted at the next miss;
* the centre of a pose is the mean of its joints (:func:`joint_mean`, the centre the
  network was trained with), the one definition everything here and the evaluation use;
* refinement (:func:`refine_centres`): within one frame, a pose at least
  ``min_refine_confidence`` confident is cropped again at its joint mean; a less
  confident one (or one with no finite joint) keeps its crop centre;
* :meth:`HandTracker.update_from_pose` re-centres a track on the joint mean of its
  pose; a pose whose confidence is below ``min_pose_confidence`` (or whose joint
  mean is non-finite or jumps more than ``max_pose_jump_mm``) does not move it, and
  ``max_low_confidence`` such poses in a row *while the track coasts* (no detection
  matched in that frame) delete it. A track the localiser keeps detecting is not ended
  by doubtful poses: whether it is a hand is the localiser's hand score (published in
  its confidence, gated by ``min_hand_confidence``), and a doubtful pose only lowers
  that confidence (a network unsure of a real hand, e.g. one holding an object, would
  otherwise restart the track, and its ``min_hits`` confirmation, every few frames);
* publishing (:meth:`HandTracker.published_tracks`): confirmed tracks that were matched
  to a detection this frame, and confirmed tracks coasting without one while their last
  pose is at least ``min_coast_confidence`` confident (a hand that left the view is not
  reported over an empty crop);
* handedness (:meth:`HandTracker.handedness`): every matched detection that carries the
  localiser's side estimate (``right_logit``, :class:`~kpfusion_ros.localization.HandCandidate`)
  adds it, clipped to ±``max_side_logit``, to a mean of the logit over the track's life (or over its
  last ``side_window`` estimates), weighted by the detection's hand score (a doubtful detection says
  less about the side). The
  track is RIGHT when the mean says p(right) ≥ ½, else LEFT; below ``min_handedness_confidence``
  (of max(p, 1 − p)) it is published as UNKNOWN. The pipeline mirrors the crop of a LEFT track
  before the network (as the network was trained); an UNKNOWN one is cropped as a right hand.
  With ``side_source`` "stability" the detections' side is ignored and the pipeline adds the
  stability test's logit (:mod:`kpfusion_ros.side_test`) instead, the same way, while the side is undecided
  and every ``retest_every``-th frame after;
* hand score: the running mean of the matched detections' scores (the localiser's p(hand)) over the
  track's life; centre score: the running mean of the verifier's p(hand) at the joint mean of each of the
  track's poses (given to :meth:`HandTracker.update_from_pose`); the published confidence is
  :func:`overall_confidence` of the hand score, the pose's confidence (``pose_confidence_weight``) and the
  centre score (``centre_score_weight``); confirmed tracks below
  ``min_hand_confidence`` are not published;
* two tracks closer than ``merge_mm`` are duplicates: a confirmed one beats a tentative one, then (``merge_keeps``
  "matched", the default) one matched to a detection this frame beats a coasting one, then the older (lower id)
  stays;
* ids are integers from 1, monotonic and never reused, even across :meth:`reset`
  (unless ``reset(reset_ids=True)``);
* time: a stamp earlier than the previous one (bag loop, simulated clock restart)
  resets the tracks before the frame is processed; a forward gap longer than
  ``max_gap_s`` (``None``: no limit) does the same (the tracks are stale).
  Equal stamps are accepted. ``stamp=None`` disables both checks.

Per-frame cost is a few microseconds per track; numpy only for the 3-vectors.
"""

from __future__ import annotations

import functools
import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

import numpy as np

from kpfusion_ros.hand import HANDEDNESS_LEFT, HANDEDNESS_RIGHT, HANDEDNESS_UNKNOWN

__all__ = ["TrackerConfig", "Track", "HandTracker", "joint_mean", "refine_centres", "linear_assignment",
           "overall_confidence"]


#: Sources of side evidence (:attr:`TrackerConfig.side_source`).
SIDE_SOURCES = ("verifier", "stability")
#: When a track's crop is mirrored (:meth:`HandTracker.crop_mirrored`): "decided" (only once its side is published
#: LEFT) or "likelier" (whenever its side mean leans left, published or not).
CROP_SIDES = ("decided", "likelier")
#: Which of two duplicate tracks is kept (:attr:`TrackerConfig.merge_keeps`).
MERGE_KEEPS = ("older", "matched", "stayed", "matched_unless_jumped")


@dataclass(frozen=True)
class TrackerConfig:
    """Parameters of :class:`HandTracker` (lengths in mm, times in s)."""

    #: Largest track-to-detection 3D distance that may be matched, plus ``gate_speed_mm_s``
    #: times the time since the track's last matched detection (a hand moves further between
    #: the frames of a node that drops frames), at most ``max_gate_mm``.
    gate_mm: float = 80.0
    gate_speed_mm_s: float = 1000.0
    max_gate_mm: float = 300.0
    #: Consecutive matched frames (creation included) before a track is confirmed.
    min_hits: int = 3
    #: Consecutive missed frames a confirmed track survives (deleted at the next one).
    max_misses: int = 5
    #: A pose less confident than this does not re-centre its track and counts as a bad pose.
    min_pose_confidence: float = 0.3
    #: Within a frame, a pose at least this confident is cropped again at its joint mean
    #: (the pipeline's ``refine_iterations``); a less confident one keeps its crop.
    min_refine_confidence: float = 0.2
    #: A confirmed track with no detection this frame is published only while its pose is at
    #: least this confident (the confidence includes the crop's foreground: an emptied crop drops out).
    min_coast_confidence: float = 0.2
    #: Consecutive bad poses, in frames where the track has no matched detection, that delete the track.
    max_low_confidence: int = 3
    #: A pose centre farther than this from the track centre is a bad pose.
    max_pose_jump_mm: float = 150.0
    #: Learn and apply the (pose centre − detection centre) offset on matched frames.
    use_pose_offset: bool = True
    #: Largest offset applied (mm); longer offsets are scaled down to this norm.
    max_pose_offset_mm: float = 60.0
    #: A good pose resets the miss counter (track survives localiser drop-outs).
    pose_keeps_alive: bool = False
    #: Tracks closer than this are duplicates; 0 = off. Which one is kept: :attr:`merge_keeps`.
    merge_mm: float = 40.0
    #: Of two duplicates, which is kept: "older" (a confirmed track beats a tentative one, then the older one)
    #: or "matched" (confirmed first, then the one matched to a detection in this frame, then the older one:
    #: a coasting track pulled onto a hand another track holds gives way), or "stayed" (confirmed first, then the
    #: one whose centre moved less since the start of this frame's update, then the older one: a track that
    #: jumped onto another's hand gives way; docs/results/merge_stayed_2026-12-03/), or "matched_unless_jumped"
    #: (confirmed first; then, if one moved at least ``merge_mm`` more than the other this frame, the other: it
    #: jumped into the merge distance from outside it; otherwise as "matched"). "matched" is the default
    #: since 2026-12-03, by the rule of docs/results/merge_2026-12-03/ (fewer identity switches, error and
    #: sides held).
    merge_keeps: str = "matched"
    #: A forward time gap longer than this resets the tracker; None = no limit.
    max_gap_s: float | None = None
    #: At most this many live tracks (new ones beyond it are not created).
    max_tracks: int = 4
    #: A side estimate whose confidence max(p(right), p(left)) is below this is published as UNKNOWN.
    min_handedness_confidence: float = 0.75
    #: Per-detection side logits are clipped to ±this before the running mean.
    max_side_logit: float = 6.0
    #: Where the side evidence comes from: "verifier" (the localiser's side head, each detection's
    #: ``right_logit``) or "stability" (:mod:`kpfusion_ros.side_test`, run by the pipeline while a track's
    #: side is undecided; the detections' ``right_logit`` is then ignored). "stability" since 2026-12-03 (was
    #: "verifier"): rule 2 of docs/results/side_reset_2026-12-02/.
    side_source: str = "stability"
    #: A track's side is UNKNOWN until it has taken at least this many side estimates. 10 since 2026-12-03 (was 1):
    #: rule 2 of docs/results/side_reset_2026-12-02/.
    min_side_estimates: int = 10
    #: A track's side is the mean of its last this-many side estimates (0 = all of them), so that a track which
    #: moves onto another hand can turn round (with :attr:`~kpfusion_ros.side_test.SideTestConfig.retest_every`).
    #: Applies with the "stability" source only (:attr:`active_side_window`). 10 since 2026-12-03 (was 0): rule 1
    #: of docs/results/side_reset_2026-12-02/.
    side_window: int = 10
    #: Which side a track's crop is cut as (:meth:`HandTracker.crop_mirrored`): "decided" mirrors it only once
    #: the side is published LEFT (an UNKNOWN hand is cropped as a right hand, the network's own side);
    #: "likelier" mirrors it whenever the track's side mean leans left, published or still UNKNOWN.
    crop_side: str = "decided"
    #: Confirmed tracks whose overall confidence (:func:`overall_confidence`) is below this are not published.
    #: 0.6 since 2026-12-02: the rule of docs/results/confidence_threshold_2026-12-01/ on the weights of then.
    min_hand_confidence: float = 0.6
    #: Weight of the pose's own confidence in the overall confidence (the rest is the hand score). 0 since
    #: 2026-12-02 (was 0.25): docs/results/confidence_weight_2026-12-02/.
    pose_confidence_weight: float = 0.0
    #: Weight of the centre score (the verifier's p(hand) at the joint mean of the track's poses, averaged over
    #: its frames) in the overall confidence; the hand score gets 1 − this − ``pose_confidence_weight``.
    centre_score_weight: float = 0.0

    @property
    def active_side_window(self) -> int:
        """The side window in force: ``side_window`` with the stability source, 0 (the track's whole life) with
        the verifier's, whose side head is not re-tested and was never evaluated with a window."""
        return self.side_window if self.side_source == "stability" else 0

    def __post_init__(self) -> None:
        if self.gate_mm <= 0 or self.gate_speed_mm_s < 0 or self.max_gate_mm < self.gate_mm:
            raise ValueError("need gate_mm > 0, gate_speed_mm_s >= 0 and max_gate_mm >= gate_mm")
        if self.min_hits < 1 or self.max_misses < 0 or self.max_low_confidence < 1:
            raise ValueError("need min_hits >= 1, max_misses >= 0, max_low_confidence >= 1")
        if self.max_tracks < 0:
            raise ValueError("max_tracks must be >= 0")
        if self.max_side_logit <= 0:
            raise ValueError("max_side_logit must be > 0")
        if self.min_side_estimates < 1:
            raise ValueError("min_side_estimates must be >= 1")
        if self.side_window < 0:
            raise ValueError("side_window must be >= 0 (0 = all estimates)")
        if self.merge_keeps not in MERGE_KEEPS:
            raise ValueError(f"merge_keeps must be one of {MERGE_KEEPS}, got {self.merge_keeps!r}")
        if self.crop_side not in CROP_SIDES:
            raise ValueError(f"crop_side must be one of {CROP_SIDES}, got {self.crop_side!r}")
        if self.side_source not in SIDE_SOURCES:
            raise ValueError(f"side_source must be one of {SIDE_SOURCES}, got {self.side_source!r}")
        for name in ("min_pose_confidence", "min_refine_confidence", "min_coast_confidence",
                     "min_handedness_confidence", "min_hand_confidence", "pose_confidence_weight",
                     "centre_score_weight"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1]")
        if self.pose_confidence_weight + self.centre_score_weight > 1.0:
            raise ValueError("pose_confidence_weight + centre_score_weight must be <= 1")


@dataclass
class Track:
    """State of one tracked hand."""

    id: int
    #: Crop centre for the next frame, camera frame mm (3,).
    centre_mm: np.ndarray
    #: Last detection bbox in pixels (x, y, w, h), None if never given.
    bbox: tuple[int, int, int, int] | None = None
    #: Frames since creation (0 on the creation frame).
    age: int = 0
    #: Consecutive matched frames (creation counts as one).
    hits: int = 1
    #: Matched frames in total.
    total_hits: int = 1
    #: Consecutive frames without a matched detection.
    misses: int = 0
    confirmed: bool = False
    #: Last pose confidence fed back, None before any.
    confidence: float | None = None
    #: Consecutive bad poses.
    low_confidence: int = 0
    #: Last accepted pose centre (joint mean), None before any.
    pose_centre_mm: np.ndarray | None = None
    #: Stamp of the last update (s) and of the last matched detection.
    last_stamp: float | None = None
    last_detection_stamp: float | None = None
    #: Last matched detection centre (front-surface centroid), mm.
    detection_centre_mm: np.ndarray | None = None
    #: pose centre − detection centre, learnt on frames with both.
    offset_mm: np.ndarray | None = field(default=None, repr=False)
    #: Whether a detection was matched in the latest update.
    matched: bool = False
    #: Centre at the start of the latest update (a new track: where it was created), mm; see :attr:`moved_mm`.
    frame_start_mm: np.ndarray | None = field(default=None, repr=False)
    #: Sums of the side logits (weighted by their hand score) and of the weights, over the estimates in
    #: ``side_evidence``.
    side_logit_sum: float = 0.0
    side_weight: float = 0.0
    #: Side estimates taken in the track's life (:attr:`TrackerConfig.min_side_estimates`).
    side_tests: int = 0
    #: The (weight, clipped logit) pairs behind those sums when there is a window: the last
    #: :attr:`TrackerConfig.side_window` of them (empty without a window, where the sums are kept running).
    side_evidence: deque = field(default_factory=deque, repr=False)
    #: Running sum and count of the matched detections' hand scores (None-scored detections excluded).
    score_sum: float = 0.0
    score_count: int = 0
    #: Running sum and count of the centre scores fed back with the poses (:meth:`HandTracker.update_from_pose`).
    centre_score_sum: float = 0.0
    centre_score_count: int = 0

    @property
    def moved_mm(self) -> float:
        """How far the centre moved since the start of the latest update (detection and pose together), mm;
        0 before any update."""
        if self.frame_start_mm is None:
            return 0.0
        return float(np.linalg.norm(self.centre_mm - self.frame_start_mm))

    @property
    def p_right(self) -> float:
        """Smoothed probability that this is a right hand (0.5 before any side estimate)."""
        if self.side_weight <= 0:
            return 0.5
        return 1.0 / (1.0 + math.exp(-self.side_logit_sum / self.side_weight))

    @property
    def mirrored(self) -> bool:
        """Whether the likelier side is left (what decides the crop with ``crop_side`` "likelier":
        :meth:`HandTracker.crop_mirrored`)."""
        return self.p_right < 0.5

    @property
    def hand_score(self) -> float | None:
        """Mean hand score of the track's matched detections (None when none carried one)."""
        return self.score_sum / self.score_count if self.score_count else None

    @property
    def centre_score(self) -> float | None:
        """Mean centre score of the track's poses (None when none was given)."""
        return self.centre_score_sum / self.centre_score_count if self.centre_score_count else None

    def observe(self, det: Any, max_side_logit: float, use_side: bool = True, window: int = 0) -> None:
        """Take a matched detection's hand score and (with ``use_side``) side estimate (attributes ``score``,
        ``right_logit``)."""
        score = getattr(det, "score", None)
        if score is not None and np.isfinite(score):
            self.score_sum += float(score)
            self.score_count += 1
        if use_side:
            self.add_side_evidence(getattr(det, "right_logit", None), score, max_side_logit, window)

    def add_side_evidence(self, logit: float | None, weight: float | None, max_side_logit: float,
                          window: int = 0) -> None:
        """Add a side logit (clipped to ±``max_side_logit``) to the side mean, weighted by ``weight`` (a hand
        score; None = 1); with ``window`` > 0 the mean keeps only the last ``window`` estimates. None, non-finite
        and exactly-0 logits carry no evidence."""
        if logit is None or not np.isfinite(logit) or logit == 0.0:
            return
        w = float(weight) if weight is not None and np.isfinite(weight) else 1.0
        w = max(w, 1e-3)
        x = float(np.clip(logit, -max_side_logit, max_side_logit))
        self.side_tests += 1
        if window <= 0:
            # the mean over the track's life needs only the running sums: nothing is stored
            self.side_logit_sum += w * x
            self.side_weight += w
            return
        self.side_evidence.append((w, x))
        while len(self.side_evidence) > window:
            self.side_evidence.popleft()
        # the sums over the window, re-added (not decremented) so that no rounding accumulates
        self.side_logit_sum = math.fsum(a * b for a, b in self.side_evidence)
        self.side_weight = math.fsum(a for a, _ in self.side_evidence)


def _centre_of(det: Any) -> np.ndarray:
    return np.asarray(getattr(det, "centre_mm", det), dtype=np.float64).reshape(3)


def joint_mean(joints_mm) -> np.ndarray:
    """The centre of a pose: the mean of its joints (…×J×3, mm) whose three coordinates are finite → …×3.

    The crop centre the network was trained with (reference §3 "Crop center"). NaN where a
    pose has no finite joint. Float64.
    """
    j = np.asarray(joints_mm, dtype=np.float64)
    ok = np.isfinite(j).all(axis=-1)
    total = np.where(ok[..., None], j, 0.0).sum(axis=-2)
    with np.errstate(invalid="ignore", divide="ignore"):
        return total / ok.sum(axis=-1)[..., None]


def refine_centres(centres_mm, joints_mm, confidence, min_confidence: float) -> np.ndarray:
    """Crop centres for the next refinement pass of one frame (K×3 mm, float64).

    Hand k moves to the joint mean of its pose ``joints_mm[k]`` (K×J×3 mm) when that mean is
    finite and ``confidence[k]`` (K) is at least ``min_confidence``; otherwise it keeps
    ``centres_mm[k]``. The pipeline uses ``TrackerConfig.min_refine_confidence``, and so does the
    evaluation's localiser protocol.
    """
    c = np.asarray(centres_mm, dtype=np.float64).reshape(-1, 3)
    mean = joint_mean(joints_mm).reshape(-1, 3)
    ok = np.isfinite(mean).all(axis=1) & (np.asarray(confidence).reshape(-1) >= min_confidence)
    return np.where(ok[:, None], mean, c)


def overall_confidence(hand_score: float | None, pose_confidence: float | None,
                       pose_weight: float | None = None, centre_score: float | None = None,
                       centre_weight: float | None = None) -> float:
    """The published confidence that a track is a hand with a usable pose, in [0, 1].

    A weighted geometric mean ``hand_score^(1 − w − v) · pose_confidence^w · centre_score^v`` (``w =
    pose_weight``, default :attr:`TrackerConfig.pose_confidence_weight`; ``v = centre_weight``, default
    :attr:`TrackerConfig.centre_score_weight`) of the track's hand score (the localiser's p(hand), averaged over
    its matched detections), the pose's own confidence (:func:`kpfusion_ros.pipeline.pose_confidence`) and the
    track's centre score (the verifier's p(hand) at the joint mean of each of its poses, averaged). On rendered
    sequences any weight on the pose ranked true hands below false ones more often
    (docs/results/confidence_weight_2026-12-02/); the centre score's weight was chosen by
    docs/results/centre_score_2026-12-02/. Inputs that are missing (no pose yet, no scored detection, no
    verifier) drop out and the others' weights are rescaled to sum to 1; if those weights are all 0, the
    inputs present count equally. None present: 0.
    """
    w = TrackerConfig.pose_confidence_weight if pose_weight is None else float(pose_weight)
    v = TrackerConfig.centre_score_weight if centre_weight is None else float(centre_weight)
    if w < 0 or v < 0 or w + v > 1.0 + 1e-9:
        raise ValueError(f"need pose_weight, centre_weight >= 0 with a sum <= 1, got {w:g}, {v:g}")
    clip = lambda x: max(min(float(x), 1.0), 1e-9)  # noqa: E731
    parts = [(x, wt) for x, wt in ((hand_score, max(0.0, 1.0 - w - v)), (pose_confidence, w), (centre_score, v))
             if x is not None and np.isfinite(x)]
    if not parts:
        return 0.0
    total = sum(wt for _, wt in parts)
    weights = [wt / total for _, wt in parts] if total > 0 else [1.0 / len(parts)] * len(parts)
    value = math.exp(sum(wt * math.log(clip(x)) for (x, _), wt in zip(parts, weights)))
    return float(np.clip(value, 0.0, 1.0))


def linear_assignment(cost: Sequence[Sequence[float]]) -> list[int]:
    """Minimum-cost assignment of rows to columns (rows ≤ columns, finite costs).

    Returns, per row, its column. O(n²m) Hungarian with potentials (pure Python; the
    matrices here are a few hands wide).
    """
    n = len(cost)
    if n == 0:
        return []
    m = len(cost[0])
    if m < n:
        raise ValueError("need rows <= columns")
    INF = math.inf
    u = [0.0] * (n + 1)
    v = [0.0] * (m + 1)
    p = [0] * (m + 1)
    way = [0] * (m + 1)
    for i in range(1, n + 1):
        p[0] = i
        j0 = 0
        minv = [INF] * (m + 1)
        used = [False] * (m + 1)
        while True:
            used[j0] = True
            i0 = p[j0]
            delta = INF
            j1 = 0
            row = cost[i0 - 1]
            for j in range(1, m + 1):
                if not used[j]:
                    cur = row[j - 1] - u[i0] - v[j]
                    if cur < minv[j]:
                        minv[j] = cur
                        way[j] = j0
                    if minv[j] < delta:
                        delta = minv[j]
                        j1 = j
            for j in range(m + 1):
                if used[j]:
                    u[p[j]] += delta
                    v[j] -= delta
                else:
                    minv[j] -= delta
            j0 = j1
            if p[j0] == 0:
                break
        while True:
            j1 = way[j0]
            p[j0] = p[j1]
            j0 = j1
            if j0 == 0:
                break
    ans = [-1] * n
    for j in range(1, m + 1):
        if p[j]:
            ans[p[j] - 1] = j - 1
    return ans


def _match(tracks: list[np.ndarray], dets: list[np.ndarray], gate) -> list[tuple[int, int]]:
    """Gated optimal matching: maximises matches within the gates, then minimises distance.

    ``gate``: one distance for every track, or one per track. Square (n+m) matrix: real
    pairs cost d (≤ the track's gate) or "forbidden"; leaving a track or a detection
    unmatched costs max(gate)/2, the same for all. So every allowed pair beats leaving both
    unmatched, and the solver cannot prefer matching a track only because leaving it out
    is dearer: a coasting track's wide gate decides which pairs it may take, not who gets
    a detection that a nearer track also reaches.
    """
    n, m = len(tracks), len(dets)
    if n == 0 or m == 0:
        return []
    gates = [float(g) for g in np.broadcast_to(np.asarray(gate, dtype=np.float64), (n,))]
    gmax = max(gates)
    big = 1e6 * gmax
    N = n + m
    cost = [[0.0] * N for _ in range(N)]
    for i in range(n):
        for j in range(m):
            dist = float(np.linalg.norm(tracks[i] - dets[j]))
            cost[i][j] = dist if dist <= gates[i] else big
        for k in range(n):
            cost[i][m + k] = gmax / 2 if k == i else big
    for j in range(m):
        for k in range(m):
            cost[n + j][k] = gmax / 2 if k == j else big
    assign = linear_assignment(cost)
    return [(i, assign[i]) for i in range(n) if assign[i] < m and cost[i][assign[i]] <= gates[i]]


class HandTracker:
    """Tracks hands across frames (see the module docstring for the rules)."""

    def __init__(self, config: TrackerConfig | None = None) -> None:
        self.config = config or TrackerConfig()
        self._tracks: list[Track] = []
        self._next_id = 1
        self._last_stamp: float | None = None
        self.resets = 0  # number of automatic + manual resets, for diagnostics

    # ----------------------------------------------------------------- queries
    @property
    def tracks(self) -> list[Track]:
        """All live tracks (tentative and confirmed), by id."""
        return list(self._tracks)

    def confirmed_tracks(self) -> list[Track]:
        return [t for t in self._tracks if t.confirmed]

    def published_tracks(self) -> list[Track]:
        """The tracks to report after this frame's :meth:`update_from_pose` calls, by id:
        confirmed and either matched to a detection in the latest :meth:`update`, or coasting
        with a last pose confidence of at least ``min_coast_confidence``."""
        m = self.config.min_coast_confidence
        return [t for t in self._tracks
                if t.confirmed and (t.matched or (t.confidence is not None and t.confidence >= m))
                and self.confidence(t) >= self.config.min_hand_confidence]

    def confidence(self, track: Track) -> float:
        """The track's overall confidence (:func:`overall_confidence` of its hand score, last pose confidence and
        centre score, with this tracker's weights)."""
        return overall_confidence(track.hand_score, track.confidence, self.config.pose_confidence_weight,
                                  track.centre_score, self.config.centre_score_weight)

    def handedness(self, track: Track) -> tuple[int, float]:
        """(HANDEDNESS_LEFT / RIGHT / UNKNOWN, confidence max(p(right), p(left)) in [0.5, 1]) of a track."""
        p = track.p_right
        conf = max(p, 1.0 - p)
        if (track.side_weight <= 0 or conf < self.config.min_handedness_confidence
                or track.side_tests < self.config.min_side_estimates):
            return HANDEDNESS_UNKNOWN, conf
        return (HANDEDNESS_RIGHT if p >= 0.5 else HANDEDNESS_LEFT), conf

    def crop_mirrored(self, track: Track) -> bool:
        """Whether ``track``'s crop is mirrored before the network (its joints mirrored back): by
        :attr:`TrackerConfig.crop_side`, once its side is published LEFT, or whenever its side mean leans left."""
        if self.config.crop_side == "likelier":
            return track.side_weight > 0 and track.mirrored
        return self.handedness(track)[0] == HANDEDNESS_LEFT

    def add_side_evidence(self, track: Track, logit: float | None, weight: float | None) -> None:
        """Add one side estimate to ``track`` with this tracker's clipping and window (:meth:`Track.add_side_evidence`)."""
        track.add_side_evidence(logit, weight, self.config.max_side_logit, self.config.active_side_window)

    def get(self, track_id: int) -> Track | None:
        for t in self._tracks:
            if t.id == track_id:
                return t
        return None

    def predicted_centres(self, confirmed_only: bool = False) -> dict[int, np.ndarray]:
        """Crop centres (mm, copies) for the next network pass, by track id.

        By default tentative tracks (new detections) are included so that they get a
        pose before being confirmed; publish only :meth:`confirmed_tracks`.
        """
        return {t.id: t.centre_mm.copy() for t in self._tracks if t.confirmed or not confirmed_only}

    def gate_for(self, track: Track, stamp: float | None) -> float:
        """Association gate of ``track`` at ``stamp`` (mm): wider the longer since its last detection."""
        c = self.config
        if stamp is None or track.last_detection_stamp is None:
            return c.gate_mm
        dt = max(0.0, float(stamp) - track.last_detection_stamp)
        return min(c.max_gate_mm, c.gate_mm + c.gate_speed_mm_s * dt)

    # ----------------------------------------------------------------- updates
    def reset(self, reset_ids: bool = False) -> None:
        """Drop every track. Ids keep increasing unless ``reset_ids``."""
        self._tracks = []
        self._last_stamp = None
        self.resets += 1
        if reset_ids:
            self._next_id = 1

    def update(self, detections: Iterable[Any], stamp: float | None = None) -> list[Track]:
        """Associate this frame's detections and return the confirmed tracks.

        ``detections``: objects with ``centre_mm`` (and optionally ``bbox``), e.g.
        :class:`kpfusion_ros.localization.HandCandidate`, or plain 3-vectors (mm).
        """
        c = self.config
        if stamp is not None:
            stamp = float(stamp)
            if self._last_stamp is not None:
                dt = stamp - self._last_stamp
                if dt < 0 or (c.max_gap_s is not None and dt > c.max_gap_s):
                    self.reset()
            self._last_stamp = stamp
        dets = list(detections)
        centres = [_centre_of(d) for d in dets]
        order = [i for i, x in enumerate(centres) if np.all(np.isfinite(x))]
        dets = [dets[i] for i in order]
        centres = [centres[i] for i in order]

        pairs = _match([t.centre_mm for t in self._tracks], centres, [self.gate_for(t, stamp) for t in self._tracks])
        matched_t = {i for i, _ in pairs}
        matched_d = {j for _, j in pairs}

        for t in self._tracks:
            t.age += 1
            t.matched = False
            t.last_stamp = stamp
            t.frame_start_mm = t.centre_mm.copy()
        for i, j in pairs:
            t = self._tracks[i]
            det_c = centres[j]
            t.detection_centre_mm = det_c.copy()
            t.centre_mm = det_c + t.offset_mm if (c.use_pose_offset and t.offset_mm is not None) else det_c.copy()
            bbox = getattr(dets[j], "bbox", None)
            if bbox is not None:
                t.bbox = tuple(int(b) for b in bbox)
            t.hits += 1
            t.total_hits += 1
            t.misses = 0
            t.matched = True
            t.last_detection_stamp = stamp
            t.observe(dets[j], c.max_side_logit, c.side_source == "verifier", c.active_side_window)
            if t.hits >= c.min_hits:
                t.confirmed = True

        survivors: list[Track] = []
        for i, t in enumerate(self._tracks):
            if i not in matched_t:
                t.hits = 0
                t.misses += 1
                if not t.confirmed or t.misses > c.max_misses:
                    continue
            survivors.append(t)
        self._tracks = survivors

        for j, det_c in enumerate(centres):
            if j in matched_d or len(self._tracks) >= c.max_tracks:
                continue
            bbox = getattr(dets[j], "bbox", None)
            t = Track(
                id=self._next_id,
                centre_mm=det_c.copy(),
                bbox=tuple(int(b) for b in bbox) if bbox is not None else None,
                confirmed=c.min_hits <= 1,
                last_stamp=stamp,
                last_detection_stamp=stamp,
                detection_centre_mm=det_c.copy(),
                matched=True,
                frame_start_mm=det_c.copy(),
            )
            t.observe(dets[j], c.max_side_logit, c.side_source == "verifier", c.active_side_window)
            self._next_id += 1
            self._tracks.append(t)

        self._merge_duplicates()
        return self.confirmed_tracks()

    def update_from_pose(self, track_id: int, joints_mm, confidence: float = 1.0,
                         centre_score: float | None = None) -> bool:
        """Feed the network's joints (21×3 mm) back; the centre becomes their mean.

        ``centre_score``: the verifier's p(hand) at that joint mean, added to the track's running mean
        (:attr:`Track.centre_score`) whatever the pose's confidence; None or non-finite adds nothing.

        Returns False when the track does not exist or was just deleted for low
        confidence, True otherwise.
        """
        c = self.config
        t = self.get(track_id)
        if t is None:
            return False
        centre = joint_mean(np.asarray(joints_mm, dtype=np.float64).reshape(-1, 3))
        if not np.isfinite(centre).all():
            centre = None
        conf = float(confidence) if confidence is not None and np.isfinite(confidence) else 0.0
        t.confidence = conf
        if centre_score is not None and np.isfinite(centre_score):
            t.centre_score_sum += float(np.clip(centre_score, 0.0, 1.0))
            t.centre_score_count += 1
        good = (
            centre is not None
            and conf >= c.min_pose_confidence
            and float(np.linalg.norm(centre - t.centre_mm)) <= c.max_pose_jump_mm
        )
        if not good:
            if t.matched:
                # detected this frame: the localiser vouches for the hand; the pose only fails to move it
                return True
            t.low_confidence += 1
            if t.low_confidence >= c.max_low_confidence:
                self._tracks.remove(t)
                return False
            return True
        t.low_confidence = 0
        t.centre_mm = centre
        t.pose_centre_mm = centre.copy()
        if t.matched and t.detection_centre_mm is not None:
            off = centre - t.detection_centre_mm
            norm = float(np.linalg.norm(off))
            if norm > c.max_pose_offset_mm:
                off *= c.max_pose_offset_mm / norm
            t.offset_mm = off
        if c.pose_keeps_alive:
            t.misses = 0
        self._merge_duplicates()
        return self.get(track_id) is not None

    # ----------------------------------------------------------------- helpers
    def _jump_aware_order(self, a: Track, b: Track) -> int:
        """merge_keeps "matched_unless_jumped": < 0 when ``a`` is kept before ``b``. Exact for a pair of
        duplicates (the case it is for); with more tracks the order is one that Python's sort settles on."""
        if a.confirmed != b.confirmed:
            return -1 if a.confirmed else 1
        d = a.moved_mm - b.moved_mm
        if abs(d) >= self.config.merge_mm:
            return -1 if d < 0 else 1
        if a.matched != b.matched:
            return -1 if a.matched else 1
        return a.id - b.id

    def _merge_duplicates(self) -> None:
        md = self.config.merge_mm
        if md <= 0 or len(self._tracks) < 2:
            return
        # a confirmed track beats a tentative one; with merge_keeps "matched" a track matched to a detection in
        # this frame beats a coasting one; with "stayed" the one that moved less this frame beats the other; then the
        # older (lower id) wins
        keeps = self.config.merge_keeps
        if keeps == "matched_unless_jumped":
            ranked = sorted(self._tracks, key=functools.cmp_to_key(self._jump_aware_order))
        else:
            ranked = sorted(self._tracks, key=lambda t: (not t.confirmed, keeps == "matched" and not t.matched,
                                                         t.moved_mm if keeps == "stayed" else 0.0, t.id))
        kept: list[Track] = []
        for t in ranked:
            if all(np.linalg.norm(t.centre_mm - k.centre_mm) >= md for k in kept):
                kept.append(t)
        keep_ids = {t.id for t in kept}
        self._tracks = [t for t in self._tracks if t.id in keep_ids]
