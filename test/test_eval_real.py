"""Real-frame evaluation (kpfusion_ros/evaluation/real_frames.py, kpfusion-eval-real) on F-PHAB fixtures.

The network here is untrained (``random:lite``): its poses are meaningless, so the checks are on what
does not depend on it — the metrics on known inputs, the baselines against independent computations
on the labels, the structure and internal consistency of both protocols.
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
import fphab_fixture as fx  # noqa: E402

from kpfusion_ros.evaluation.metrics import auroc, pck  # noqa: E402
from kpfusion_ros.evaluation.real_frames import (  # noqa: E402
    TRADEOFF_THRESHOLDS, RealEvalConfig, bone_length_medians, detection_f1, evaluate_real, hand_size, jitter_mm,
    label_depth_offsets, mean_training_pose, pose_metrics, skeleton_floor, training_labels)

SEQ = "Subject_1/put_salt/1"
STEP = (3.0, 0.0, 4.0)  # the fixture hand moves 5 mm per frame


# ------------------------------------------------------------------------------------ metrics

def test_pose_metrics_of_known_predictions():
    gt = np.stack([fx.hand_network((0, 0, 400)), fx.hand_network((10, 5, 450))])
    perfect = pose_metrics(gt, gt)
    assert perfect["mpjpe_mm"] == 0 and perfect["pa_mpjpe_mm"] < 1e-6
    assert perfect["pck_20mm"] == 1.0 and perfect["pck_40mm"] == 1.0 and perfect["auc_0_50"] == pytest.approx(1.0)
    assert set(perfect["per_finger_mpjpe_mm"]) == {"wrist", "thumb", "index", "middle", "ring", "pinky"}
    assert all(v == 0 for v in perfect["per_finger_mpjpe_mm"].values())
    shifted = pose_metrics(gt + np.array([18.0, 24.0, 0.0]), gt)  # every joint 30 mm off
    assert shifted["mpjpe_mm"] == pytest.approx(30.0) and shifted["pa_mpjpe_mm"] < 1e-6
    assert shifted["pck_20mm"] == 0.0 and shifted["pck_40mm"] == 1.0
    # only the thumb wrong by 50 mm: the thumb's error is 50, the others 0, MPJPE 4·50/21
    thumb = [k for k, n in enumerate(fx.NET_NAMES) if n.startswith("thumb")]
    bad = gt.copy()
    bad[:, thumb, 2] += 50.0
    m = pose_metrics(bad, gt)
    assert m["per_finger_mpjpe_mm"]["thumb"] == pytest.approx(50.0) and m["per_finger_mpjpe_mm"]["index"] == 0
    assert m["mpjpe_mm"] == pytest.approx(50.0 * 4 / 21) and m["pck_40mm"] == pytest.approx(17 / 21)


def test_detection_f1():
    assert detection_f1(8, 2, 10) == pytest.approx(16 / 20)  # 2·8 / (16 + 2 false + 2 missed)
    assert detection_f1(10, 0, 10) == 1.0 and detection_f1(0, 5, 10) == 0.0
    assert np.isnan(detection_f1(0, 0, 0))


def test_pck_auroc_hand_size_jitter():
    assert pck(np.array([5.0, 20.0, 20.1, 100.0]), 20.0) == 0.5
    assert np.isnan(pck(np.zeros(0), 20.0))
    assert auroc([3, 4], [1, 2]) == 1.0 and auroc([1, 2], [3, 4]) == 0.0
    assert auroc([1], [1]) == 0.5 and auroc([1, 3], [2]) == 0.5 and auroc([2, 2, 3], [2, 1]) == pytest.approx(5 / 6)
    assert np.isnan(auroc([], [1.0]))
    j = fx.hand_network((0, 0, 400))
    hs = hand_size(j[None])
    w, t = fx.NET_NAMES.index("wrist"), fx.NET_NAMES.index("middle_tip")
    assert hs["wrist_to_middle_tip_mm"]["median"] == pytest.approx(np.linalg.norm(j[t] - j[w]))
    assert hs["joint_to_centre_mm"]["mean"] == pytest.approx(np.linalg.norm(j - j.mean(0), axis=1).mean())
    seq = np.stack([j + k * np.array([3.0, 0.0, 4.0]) for k in range(4)] + [j])
    out = jitter_mm(seq, ["a", "a", "a", "a", "b"], [0, 1, 2, 4, 5])  # pairs (0,1), (1,2) only
    assert out["pairs"] == 2 and out["mean"] == pytest.approx(5.0)


def test_label_depth_offsets():
    depth = np.full((40, 60), 500.0)
    depth[:, :5] = 0  # no depth on the left
    j = np.zeros((1, 21, 3))
    j[0, :, 2] = 512.0  # every joint on the principal ray, 12 mm behind the surface ...
    j[0, 1] = (-143.36, 0.0, 512.0)  # ... but one lands on a pixel without depth (u = 2)
    j[0, 2] = (0.0, 900.0, 512.0)  # ... and one outside the image
    dz = label_depth_offsets(j, depth, (100.0, 100.0, 30.0, 20.0))
    assert np.isnan(dz[0, 1]) and np.isnan(dz[0, 2])
    np.testing.assert_allclose(np.delete(dz[0], [1, 2]), 12.0)
    # seen joints: at most SEEN_DZ_MM behind the surface, with depth; per hand
    from kpfusion_ros.evaluation.real_frames import SEEN_DZ_MM, _label_depth_result

    hidden = dz.copy()
    hidden[0, 3:10] = SEEN_DZ_MM + 30.0  # seven joints behind something
    r = _label_depth_result([dz, hidden])
    assert r["seen_joints"]["per_hand_mean"] == pytest.approx((19 + 12) / 2)
    assert r["seen_joints"]["share_of_hands_with_6_or_fewer"] == 0.0
    hidden[0, 10:] = SEEN_DZ_MM + 1.0
    assert _label_depth_result([hidden])["seen_joints"]["per_hand_median"] == 1.0
    assert _label_depth_result([hidden])["seen_joints"]["share_of_hands_with_6_or_fewer"] == 1.0


def test_mean_training_pose_is_the_training_labels_mean():
    """The shortcut (labels through a 1×1 window, left hands mirrored, minus the joint mean) equals the mean of
    the training path's own labels (make_hand_batch, no augmentation) on the same frames."""
    from kpfusion_ros.data.synthetic import render_batch
    from kpfusion_ros.preprocessing import CropConfig
    from kpfusion_ros.training.data import DataConfig, make_hand_batch

    m = mean_training_pose(24, width=160, height=120, chunk=8)
    assert m.shape == (21, 3) and np.abs(m.mean(0)).max() < 1e-9
    np.testing.assert_array_equal(m, mean_training_pose(24, width=160, height=120, chunk=8))  # deterministic
    np.testing.assert_allclose(m, mean_training_pose(24, width=160, height=120, chunk=12), atol=1e-9)  # batching
    dc = replace(DataConfig(), width=160, height=120)
    fb = render_batch(dc.seed, range(24), dc.synthetic())
    assert not bool(fb.is_right[fb.hand_valid].all())  # both sides present: the mirroring is exercised
    hb = make_hand_batch(fb, CropConfig(num_points=64), torch.Generator().manual_seed(0), augment=False)
    assert len(hb) == int(fb.hand_valid.sum())
    want = (hb.xyz_gt.double() * hb.crops.cube.double().unsqueeze(1) / 2).mean(0).numpy()
    np.testing.assert_allclose(m, want, atol=1e-3)


def test_summed_bone_length_ignores_flexion_and_the_convention_floor():
    """Curling a finger shortens wrist → middle tip but not the summed bone length; a hand drawn with the
    training skeleton's proportions has a zero convention floor, one with a longer thumb does not."""
    from kpfusion_ros import joints as J

    tr = training_labels(24, width=160, height=120, chunk=12)
    ref = np.median(J.bone_lengths(tr), axis=0)
    hand = J.with_bone_lengths(fx.hand_network((0, 0, 400)), 1.1 * ref)  # the training proportions, 10 % larger
    curled = hand.copy()
    i = J.NETWORK_JOINT_INDEX
    pip = i["middle_pip"]
    for k in (i["middle_dip"], i["middle_tip"]):  # fold the finger 90° about the PIP (x axis)
        v = hand[k] - hand[pip]
        curled[k] = hand[pip] + np.array([v[0], -v[2], v[1]])
    a, b = hand_size(hand[None]), hand_size(curled[None])
    assert b["wrist_to_middle_tip_mm"]["median"] < a["wrist_to_middle_tip_mm"]["median"] - 5
    assert b["bone_length_sum_mm"]["median"] == pytest.approx(a["bone_length_sum_mm"]["median"], abs=1e-9)
    assert a["bone_length_sum_mm"]["median"] == pytest.approx(1.1 * ref.sum(), rel=1e-9)
    assert skeleton_floor(np.stack([hand, curled]), tr)["mpjpe_mm"] == pytest.approx(0.0, abs=1e-6)
    long_thumb = 1.1 * ref.copy()
    k_thumb = [k for k, (p, c) in enumerate(J.NETWORK_BONES) if J.NETWORK_JOINT_NAMES[c].startswith("thumb")]
    long_thumb[k_thumb] *= 1.5
    odd = J.with_bone_lengths(hand, long_thumb)
    f = skeleton_floor(odd[None], tr)
    assert f["mpjpe_mm"] > 1.0
    assert f["per_finger_mpjpe_mm"]["thumb"] > 3 * f["per_finger_mpjpe_mm"]["index"]
    med = bone_length_medians(odd[None])
    assert len(med) == 20 and med["thumb_cmc→thumb_mcp"] == pytest.approx(long_thumb[k_thumb[1]], rel=1e-9)
    np.testing.assert_allclose(mean_training_pose(labels=tr), tr.mean(0))


# ------------------------------------------------------------------------------------ both protocols

@pytest.fixture(scope="module")
def real_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("fphab_eval") / "fphab"
    fx.write_sequence(root, SEQ, fx.moving_hand(4, step=STEP))
    fx.write_sequence(root, "Subject_2/put_salt/1", fx.moving_hand(1, start=(-30.0, 10.0, 380.0)))
    return root


def _pipeline_config():
    from kpfusion_ros.node_config import NodeConfig, pipeline_config

    return replace(pipeline_config(NodeConfig()), model_path="random:lite", device="cpu")


def test_evaluate_real_structure_and_checkable_numbers(real_root):
    from kpfusion_ros.data.fphab import FPHAB

    reader = FPHAB(real_root)
    res = evaluate_real(reader, _pipeline_config(), RealEvalConfig(mean_pose_frames=16, candidates=True))
    assert res["frames"] == 5 and res["sequences"] == 2 and res["untrained_model"]
    gt = np.stack([reader.joints_color_mm(i) for i in range(len(reader))])
    centre = gt.mean(1, keepdims=True)

    g = res["gt_crops"]
    assert g["hands"] == 5 and g["network"]["count"] == 5
    # all joints at the centre: MPJPE = the labels' mean joint-to-centre distance, PCK from the same distances
    dist = np.linalg.norm(gt - centre, axis=-1)
    b = g["baseline_all_joints_at_centre"]
    assert b["mpjpe_mm"] == pytest.approx(dist.mean(), rel=1e-6)
    assert b["mpjpe_mm"] == pytest.approx(g["hand_size"]["labels"]["joint_to_centre_mm"]["mean"], rel=1e-6)
    assert b["pck_20mm"] == pytest.approx((dist <= 20).mean()) and b["pck_40mm"] == pytest.approx((dist <= 40).mean())
    # the mean training pose at the GT centre
    mp = mean_training_pose(16)
    err = np.linalg.norm(centre + mp[None] - gt, axis=-1)
    assert g["baseline_mean_training_pose"]["mpjpe_mm"] == pytest.approx(err.mean(), rel=1e-6)
    assert g["hand_size"]["mean_training_pose"] == hand_size(mp[None])
    tr = training_labels(16)
    want = skeleton_floor(gt, tr)
    assert g["skeleton_floor"]["mpjpe_mm"] == pytest.approx(want["mpjpe_mm"], rel=1e-5)
    assert g["skeleton_floor"]["per_finger_mpjpe_mm"] == pytest.approx(want["per_finger_mpjpe_mm"], rel=1e-5)
    assert g["bone_lengths_mm"]["labels"] == pytest.approx(bone_length_medians(gt), rel=1e-6)
    assert g["hand_size"]["training_labels"] == hand_size(tr)
    # label sizes and motion: the fixture hand, translating 5 mm per frame in sequence 1 (3 pairs)
    j0 = fx.hand_network((0, 0, 0))
    w, t = fx.NET_NAMES.index("wrist"), fx.NET_NAMES.index("middle_tip")
    assert g["hand_size"]["labels"]["wrist_to_middle_tip_mm"]["median"] == pytest.approx(
        np.linalg.norm(j0[t] - j0[w]), abs=1e-3)
    assert g["jitter_mm"]["labels"]["pairs"] == 3
    assert g["jitter_mm"]["labels"]["mean"] == pytest.approx(5.0, abs=0.02)  # rotation of the rig: still rigid
    assert g["jitter_mm"]["labels_centre_relative"]["mean"] == pytest.approx(0.0, abs=0.02)
    assert g["network"]["mpjpe_mm"] > 0 and 0 <= g["network"]["pck_40mm"] <= 1
    # the fixture's joints are centres of 10 mm spheres: the surface is ~10 mm in front of them
    assert res["labels_vs_depth"]["median_dz_mm"] == pytest.approx(10.0, abs=1.5)
    assert res["labels_vs_depth"]["fraction_in_front_of_surface"] == 0.0

    n = res["node"]
    assert n["labelled_hands"] == 5 and 0 <= n["found"] <= 5
    assert n["detection_rate"] == pytest.approx(n["found"] / 5)
    assert n["detections_elsewhere"] == len(n["detections_elsewhere_list"])
    assert all(d["gt_distance_mm"] > 80.0 for d in n["detections_elsewhere_list"])
    assert n["confidence"]["true"]["count"] == n["found"]
    assert n["confidence"]["false"]["count"] == n["detections_elsewhere"]
    # each published hand's confidence inputs: recombined by tracking.overall_confidence, they give it back
    from kpfusion_ros.tracking import overall_confidence

    parts = n["confidence"]["parts"]
    w, v = parts["pose_confidence_weight"], parts["centre_score_weight"]
    assert len(parts["true"]) == n["found"] and len(parts["false"]) == n["detections_elsewhere"]
    assert [p[2] for p in parts["false"]] == [d["confidence"] for d in n["detections_elsewhere_list"]]
    assert parts["true"] and np.median([p[2] for p in parts["true"]]) == pytest.approx(n["confidence"]["true"]["median"])
    for hs, pc, conf, cs in parts["true"] + parts["false"]:
        assert overall_confidence(hs, pc, w, cs, v) == pytest.approx(conf, rel=1e-9)
    # the trade-off: one row per threshold, the unthresholded row is the run's, a row keeps what reaches it
    rows = n["confidence"]["tradeoff"]
    assert [r["min_hand_confidence"] for r in rows] == list(TRADEOFF_THRESHOLDS)
    assert (rows[0]["found"], rows[0]["detections_elsewhere"]) == (n["found"], n["detections_elsewhere"])
    for r in rows:
        assert r["detections_elsewhere"] == sum(d["confidence"] >= r["min_hand_confidence"]
                                                for d in n["detections_elsewhere_list"])
    assert all(a["found"] >= b["found"] for a, b in zip(rows, rows[1:]))
    for r in rows:  # F1 of the row's found / elsewhere against the 5 labelled hands
        tp, fp, fn = r["found"], r["detections_elsewhere"], 5 - r["found"]
        want = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else float("nan")
        assert r["f1"] == pytest.approx(want, nan_ok=True)
    assert sum(n["handedness"]["counts"].values()) == n["found"]
    if n["found"]:
        assert n["centre_error_mm"]["median"] <= 80.0 and n["pose"]["count"] == n["found"]
    assert "unlabelled hand" in n["detections_elsewhere_note"]

    # the localiser's candidates: one record per frame, ranks 1.., distances to the labelled hand
    c = res["candidates"]
    assert [fr["frame"] for fr in c] == [0, 1, 2, 3, 0] and [fr["sequence"] for fr in c] == [SEQ] * 4 + [
        "Subject_2/put_salt/1"]
    for fr in c:
        assert [k["rank"] for k in fr["candidates"]] == list(range(1, len(fr["candidates"]) + 1))
        assert all(k["is_labelled_hand"] == (k["gt_distance_mm"] <= 80.0) for k in fr["candidates"])
        scores = [k["score"] for k in fr["candidates"]]
        assert scores == sorted(scores, reverse=True)
    assert res["localizer_candidates"]["frames"] == 5
    assert res["localizer_candidates"]["hand_among_candidates"] == sum(
        any(k["is_labelled_hand"] for k in fr["candidates"]) for fr in c)


def test_gt_crops_of_a_perfect_network_are_perfect(real_root):
    """A model that outputs the GT (planted through the pipeline's estimate) gets MPJPE 0 and PCK 1."""
    from kpfusion_ros.data.fphab import FPHAB
    from kpfusion_ros.pipeline import HandPosePipeline

    reader = FPHAB(real_root, sequences=[SEQ])
    truth = {i: reader.joints_color_mm(i) for i in range(len(reader))}

    orig = HandPosePipeline.estimate

    def oracle(self, rgb, depth_mm, cam, centres_mm, mirror=None, cube_mm=None):
        joints_m, pixels, conf, overall, batch = orig(self, rgb, depth_mm, cam, centres_mm, mirror, cube_mm)
        for k, c in enumerate(np.asarray(centres_mm).reshape(-1, 3)):
            for j in truth.values():
                if np.linalg.norm(j.mean(0) - c) < 1e-2:  # the frame's joints are float32
                    joints_m[k] = j / 1000.0
        return joints_m, pixels, conf, overall, batch

    HandPosePipeline.estimate = oracle
    try:
        res = evaluate_real(reader, _pipeline_config(), RealEvalConfig(protocols=("gt_crops",), mean_pose_frames=8))
    finally:
        HandPosePipeline.estimate = orig
    m = res["gt_crops"]["network"]
    assert m["mpjpe_mm"] < 1e-3 and m["pck_20mm"] == 1.0 and m["pck_40mm"] == 1.0
    assert res["gt_crops"]["jitter_mm"]["error"]["mean"] < 1e-3
    hs = res["gt_crops"]["hand_size"]
    assert hs["predicted"]["wrist_to_middle_tip_mm"]["median"] == pytest.approx(
        hs["labels"]["wrist_to_middle_tip_mm"]["median"], abs=1e-3)
    assert "node" not in res


@pytest.mark.parametrize("follows", [False, True])
def test_offset_probe_of_a_network_that_finds_or_follows(real_root, follows):
    """A model that always returns the true pose undoes every offset (kept fraction 0, MPJPE 0); one that returns
    it moved with the crop keeps it all (fraction 1, MPJPE = the offset). Other offsets come out in between."""
    from kpfusion_ros.data.fphab import FPHAB
    from kpfusion_ros.evaluation.real_frames import PROBE_NAMES, offset_probe_result, probe_offsets
    from kpfusion_ros.pipeline import HandPosePipeline

    reader = FPHAB(real_root, sequences=[SEQ])
    truth = [reader.joints_color_mm(i).astype(np.float64) for i in range(len(reader))]
    orig = HandPosePipeline.estimate

    def oracle(self, rgb, depth_mm, cam, centres_mm, mirror=None, cube_mm=None):
        joints_m, pixels, conf, overall, batch = orig(self, rgb, depth_mm, cam, centres_mm, mirror, cube_mm)
        c = np.asarray(centres_mm, dtype=np.float64).reshape(-1, 3)
        gt_c = c.reshape(6, -1, 3).mean(0) if len(c) % 6 == 0 and len(c) >= 6 else c  # the probe's are symmetric
        for k, ck in enumerate(c):
            j = next(t for t in truth if np.linalg.norm(t.mean(0) - gt_c[k % len(gt_c)]) < 1e-2)
            joints_m[k] = (j + (ck - j.mean(0) if follows else 0.0)) / 1000.0
        return joints_m, pixels, conf, overall, batch

    HandPosePipeline.estimate = oracle
    try:
        res = evaluate_real(reader, _pipeline_config(),
                            RealEvalConfig(protocols=("gt_crops",), mean_pose_frames=8, offset_probe_mm=20.0))
    finally:
        HandPosePipeline.estimate = orig
    op = res["gt_crops"]["offset_probe"]
    assert op["hands"] == len(truth) and tuple(op["offsets"]) == PROBE_NAMES
    for v in op["offsets"].values():
        assert v["kept_fraction"] == pytest.approx(1.0 if follows else 0.0, abs=1e-4)
        assert v["mpjpe_mm"] == pytest.approx(20.0 if follows else 0.0, abs=1e-3)
    assert op["kept_fraction_mean"] == pytest.approx(1.0 if follows else 0.0, abs=1e-4)
    # the same per hand, binned by joints seen: every bin with hands keeps the same fraction
    bs = res["gt_crops"]["by_seen_joints"]
    assert bs["all"]["hands"] == len(truth) == sum(b["hands"] for b in bs["bins"].values())
    assert bs["all"]["mpjpe_mm"] == pytest.approx(res["gt_crops"]["network"]["mpjpe_mm"])
    for b in list(bs["bins"].values()) + [bs["all"]]:
        if b["hands"]:
            assert b["kept_fraction"] == pytest.approx(1.0 if follows else 0.0, abs=1e-4)
    # half-way: the predicted centre moved by half the offset, plus a constant bias the mean over ± cancels
    gt = np.stack(truth)
    offs = probe_offsets(10.0)
    bias = np.array([2.0, -1.0, 0.5])
    pred = np.stack([gt + 0.5 * o + bias for o in offs])
    half = offset_probe_result(pred, gt, 10.0)
    assert half["kept_fraction_mean"] == pytest.approx(0.5, abs=1e-9)
    assert half["offsets"]["+x"]["kept_fraction"] == pytest.approx(0.5 + 0.2, abs=1e-9)
    assert half["offsets"]["-x"]["kept_fraction"] == pytest.approx(0.5 - 0.2, abs=1e-9)


def test_error_by_seen_bins_pools_and_checks_its_inputs():
    from kpfusion_ros.evaluation.real_frames import SEEN_BINS, error_by_seen
    from kpfusion_ros.preprocessing import HIDDEN_MAX_SEEN

    gt = np.stack([fx.hand_network((0, 0, 400 + 10 * k)) for k in range(5)])
    seen = np.array([0, 3, 5, 12, 21])
    off = np.array([10.0, 20.0, 30.0, 40.0, 50.0])  # hand k: every joint off[k] mm off along z
    pred = gt + off[:, None, None] * np.array([0.0, 0.0, 1.0])
    kept = np.array([0.9, 0.7, 0.5, 0.3, 0.1])
    r = error_by_seen(pred, gt, seen, kept)
    assert tuple(r["bins"]) == tuple(f"{lo}-{hi}" for lo, hi in SEEN_BINS)
    assert r["bins"]["0-3"] == {"hands": 2, "mpjpe_mm": pytest.approx(15.0), "kept_fraction": pytest.approx(0.8)}
    assert r["bins"]["4-6"]["mpjpe_mm"] == pytest.approx(30.0) and r["bins"]["7-9"] == {
        "hands": 0, "mpjpe_mm": None, "kept_fraction": None}
    assert r["bins"]["10-13"]["hands"] == 1 and r["bins"]["14-21"]["mpjpe_mm"] == pytest.approx(50.0)
    assert r["hidden"]["max_seen"] == HIDDEN_MAX_SEEN == 6
    assert r["hidden"]["hands"] == 3 and r["hidden"]["mpjpe_mm"] == pytest.approx(20.0)
    assert r["all"]["mpjpe_mm"] == pytest.approx(30.0) and r["all"]["kept_fraction"] == pytest.approx(0.5)
    assert "kept_fraction" not in error_by_seen(pred, gt, seen)["all"]
    with pytest.raises(ValueError, match="4 seen counts"):
        error_by_seen(pred, gt, seen[:4])


def test_kpfusion_eval_real_cli(real_root, tmp_path):
    from helpers.cli import run_cli

    assert run_cli("kpfusion_ros.tools.eval_real", "--help").returncode == 0
    out, md, cands = tmp_path / "r.json", tmp_path / "r.md", tmp_path / "c.json"
    res = run_cli("kpfusion_ros.tools.eval_real", "--data-root", str(real_root), "--fphab-sequences", SEQ, "--model",
                  "random:lite", "--max-frames", "2", "--mean-pose-frames", "8", "--json", str(out), "--md", str(md),
                  "--candidates", str(cands), "--quiet")
    assert res.returncode == 0, res.stderr

    def no_nan(x):
        raise AssertionError(f"non-standard JSON constant {x}")

    res = json.loads(out.read_text(), parse_constant=no_nan)
    assert res["frames"] == 2 and res["dataset"]["sequences"] == [SEQ] and "candidates" not in res
    assert res["gt_crops"]["hands"] == 2 and res["node"]["labelled_hands"] == 2
    assert "random:lite" in res["command"]
    assert len(json.loads(cands.read_text(), parse_constant=no_nan)) == 2
    text = md.read_text()
    assert "mean training pose at GT centre" in text and "Node defaults end to end" in text
    assert "Identity switches" in text and res["node"]["identity_switches"]["count"] == 0  # one labelled hand
    # --verifier: the localiser's verifier weights ('none' = the geometric stage alone), recorded in the JSON
    geo = tmp_path / "g.json"
    res = run_cli("kpfusion_ros.tools.eval_real", "--data-root", str(real_root), "--fphab-sequences", SEQ, "--model",
                  "random:lite", "--verifier", "none", "--protocols", "node", "--max-frames", "1", "--json", str(geo),
                  "--refine-iterations", "0", "--centre-score-weight", "0.5", "--min-handedness-confidence", "0.8",
                  "--side-gain", "6.75", "--side-size-gain", "5.09", "--merge-keeps", "stayed", "--quiet")
    assert res.returncode == 0, res.stderr
    geo_node = json.loads(geo.read_text())["node"]
    pipe = geo_node["pipeline"]
    assert pipe["merge_keeps"] == "stayed"  # --merge-keeps, recorded
    assert pipe["verifier_path"] == "none" and pipe["refine_iterations"] == 0  # --refine-iterations, recorded too
    assert pipe["centre_score_weight"] == 0.5 == geo_node["confidence"]["parts"]["centre_score_weight"]
    assert (pipe["min_handedness_confidence"], pipe["side_gain"], pipe["side_size_gain"]) == (0.8, 6.75, 5.09)
    # no verifier: no centre score in any published hand's parts
    assert all(p[3] is None for p in geo_node["confidence"]["parts"]["true"] + geo_node["confidence"]["parts"]["false"])
    from kpfusion_ros.pipeline import PipelineConfig

    default = json.loads(out.read_text())["node"]["pipeline"]["refine_iterations"]
    assert default == PipelineConfig.refine_iterations != 0  # the node's default otherwise
    # the tracker's policies are recorded with the run (they change the numbers)
    tracker_default = json.loads(out.read_text())["node"]["pipeline"]
    assert (tracker_default["crop_side"], tracker_default["merge_keeps"]) == (PipelineConfig().tracker.crop_side,
                                                                             PipelineConfig().tracker.merge_keeps)
    bad = run_cli("kpfusion_ros.tools.eval_real", "--data-root", str(real_root), "--model", "random:lite",
                  "--refine-iterations", "-1", "--quiet")
    assert bad.returncode != 0 and "--refine-iterations must be >= 0" in bad.stderr
    bad = run_cli("kpfusion_ros.tools.eval_real", "--data-root", str(real_root), "--model", "random:lite",
                  "--centre-score-weight", "1.5", "--quiet")
    assert bad.returncode != 0 and "--centre-score-weight must be in [0, 1]" in bad.stderr
    bad = run_cli("kpfusion_ros.tools.eval_real", "--data-root", str(real_root), "--model", "random:lite",
                  "--min-handedness-confidence", "0.3", "--quiet")
    assert bad.returncode != 0 and "--min-handedness-confidence must be in [0.5, 1]" in bad.stderr
    bad = run_cli("kpfusion_ros.tools.eval_real", "--data-root", str(real_root), "--model", "random:lite",
                  "--side-size-gain", "-1", "--quiet")
    assert bad.returncode != 0 and "size_gain must be >= 0" in bad.stderr
    # --blank-colour: the network sees black colour; with an untrained RGB-D network that changes its poses
    blank, seen = tmp_path / "b.json", tmp_path / "s.json"
    for path, extra in ((blank, ["--blank-colour"]), (seen, [])):
        res = run_cli("kpfusion_ros.tools.eval_real", "--data-root", str(real_root), "--fphab-sequences", SEQ, "--model",
                      "random:lite", "--protocols", "gt_crops", "--max-frames", "1", "--mean-pose-frames", "4",
                      "--offset-probe-mm", "25", "--json", str(path), "--md", str(path.with_suffix(".md")), "--quiet",
                      *extra)
        assert res.returncode == 0, res.stderr
    b, s = json.loads(blank.read_text()), json.loads(seen.read_text())
    assert (b["colour"], s["colour"]) == ("blanked", "as recorded")
    assert b["gt_crops"]["network"]["mpjpe_mm"] != s["gt_crops"]["network"]["mpjpe_mm"]
    assert "Colour blanked" in blank.with_suffix(".md").read_text()
    assert "Offset probe: crops 25 mm off" in blank.with_suffix(".md").read_text()  # --offset-probe-mm
    assert b["gt_crops"]["offset_probe"]["hands"] == 1 and len(b["gt_crops"]["offset_probe"]["offsets"]) == 6
    assert "offset_probe" not in json.loads(out.read_text())["gt_crops"]  # off by default
    bad = run_cli("kpfusion_ros.tools.eval_real", "--data-root", str(real_root), "--model", "random:lite",
                  "--offset-probe-mm", "-5", "--quiet")
    assert bad.returncode != 0 and "--offset-probe-mm must be >= 0" in bad.stderr
    bad = run_cli("kpfusion_ros.tools.eval_real", "--dataset", "synthetic")
    assert bad.returncode != 0 and "real dataset" in bad.stderr and "--synthetic-sequences" in bad.stderr
    bad = run_cli("kpfusion_ros.tools.eval_real", "--data-root", str(real_root), "--model", "random:lite", "--protocols",
                  "nope", "--quiet")
    assert bad.returncode != 0 and "unknown protocols" in bad.stderr


def test_node_protocol_on_rendered_sequences_with_two_hands(tmp_path):
    """--synthetic-sequences: the node protocol over rendered sequences whose frames hold one or two labelled
    hands (a right hand, then a left one entering), with the shipped weights, checked against the labels."""
    from helpers.cli import run_cli

    from kpfusion_ros.data.synthetic import SyntheticConfig, SyntheticSequences

    out = tmp_path / "s.json"
    res = run_cli("kpfusion_ros.tools.eval_real", "--synthetic-sequences", "301", "--sequence-frames", "80",
                  "--width", "160", "--height", "120", "--protocols", "node", "--json", str(out), "--quiet")
    assert res.returncode == 0, res.stderr
    r = json.loads(out.read_text())
    reader = SyntheticSequences([301], num_frames=80, config=SyntheticConfig(width=160, height=120))
    sides = [s for i in range(len(reader)) for s in reader[i].handedness]
    assert "left" in sides and "right" in sides  # both hands appear
    n = r["node"]
    assert r["dataset"]["name"] == "synthetic-sequences" and r["dataset"]["sequences"] == ["seed_301"]
    assert r["frames"] == 80 and n["labelled_hands"] == len(sides)
    assert r["labels_vs_depth"]["joints"] == 21 * len(sides)  # per-frame label arrays of different lengths
    # the shipped pipeline on rendered hands (measured: 108/124 found, centre 15.9 mm, MPJPE 32.5 mm; with the
    # 5.49 h weights 108/124, 17.5 mm, 33.7 mm)
    assert n["found"] >= 0.75 * len(sides)
    assert n["centre_error_mm"]["median"] <= 30.0
    assert n["pose"]["mpjpe_mm"] < 45.0
    assert sum(n["handedness"]["counts"].values()) == n["found"]
    assert n["identity_switches"]["tracks"] >= 2 and n["identity_switches"]["count"] >= 0
    bad = run_cli("kpfusion_ros.tools.eval_real", "--synthetic-sequences", "1,x", "--quiet")
    assert bad.returncode != 0 and "--synthetic-sequences" in bad.stderr
    # a crossing that does not fit the sequence: a clear error before any frame is evaluated
    bad = run_cli("kpfusion_ros.tools.eval_real", "--synthetic-sequences", "301", "--sequence-frames", "60",
                  "--cross-at", "0.5", "--quiet")
    assert bad.returncode != 0 and "cross_at 0.5" in bad.stderr and "must lie" in bad.stderr


def test_gt_crops_mirror_the_hands_labelled_left():
    """GT-centred crops of a rendered sequence with both hands: a hand labelled left is cropped mirrored (as the
    network was trained and the paper's protocol does), a right one is not; the offset probe's crops too."""
    from kpfusion_ros.data.synthetic import SyntheticConfig, SyntheticSequences
    from kpfusion_ros.pipeline import HandPosePipeline

    reader = SyntheticSequences([301], num_frames=80, config=SyntheticConfig(width=160, height=120))
    first_two = next(i for i in range(len(reader)) if len(reader[i].handedness) == 2)
    calls = []
    orig = HandPosePipeline.estimate

    def record(self, rgb, depth_mm, cam, centres_mm, mirror=None, cube_mm=None):
        calls.append((np.asarray(centres_mm).reshape(-1, 3).copy(), None if mirror is None else np.asarray(mirror)))
        return orig(self, rgb, depth_mm, cam, centres_mm, mirror, cube_mm)

    HandPosePipeline.estimate = record
    try:
        evaluate_real(reader, _pipeline_config(), RealEvalConfig(protocols=("gt_crops",), mean_pose_frames=4,
                                                                 max_frames=first_two + 2, offset_probe_mm=20.0))
    finally:
        HandPosePipeline.estimate = orig
    labelled = [reader[i] for i in range(first_two + 2)]
    assert len(calls) == 2 * len(labelled)  # the GT crops, then the probe's, per frame
    saw_left = False
    for k, f in enumerate(labelled):
        want = np.array([side == "left" for side in f.handedness])
        gt_call, probe_call = calls[2 * k], calls[2 * k + 1]
        np.testing.assert_array_equal(gt_call[1], want)
        np.testing.assert_array_equal(probe_call[1], np.tile(want, 6))
        saw_left |= bool(want.any())
    assert saw_left and not all(len(f.handedness) == 2 for f in labelled)


def test_identity_switches_count_a_track_found_on_another_labelled_hand():
    from kpfusion_ros.evaluation.real_frames import identity_switches

    found = [("a", 0, 1, "right"), ("a", 0, 2, "left"), ("a", 1, 1, "right"), ("a", 1, 2, "left"),
             ("a", 2, 1, "left"),  # track 1 now on the left hand: a switch
             ("a", 3, 1, "left"),  # still there: not another one
             ("a", 4, 1, "right"),  # back: a second switch
             ("b", 0, 1, "left")]  # the same id in another sequence is another track
    r = identity_switches(found)
    assert r["count"] == 2 and r["tracks"] == 3
    assert [(s["frame"], s["from"], s["to"]) for s in r["list"]] == [(2, "right", "left"), (4, "left", "right")]
    assert identity_switches([])["count"] == 0
