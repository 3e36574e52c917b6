"""The ROS-free per-frame pipeline: localise, track, batched inference, decode."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kpfusion_ros.camera import CameraIntrinsics
from kpfusion_ros.data.synthetic import render_frame
from kpfusion_ros.data.synthetic.presets import clean_scene_config
from kpfusion_ros.localization import LocalizerConfig
from kpfusion_ros.pipeline import HandPosePipeline, ModelLoadError, PipelineConfig, load_model, resolve_device
from kpfusion_ros.preprocessing import CropConfig
from kpfusion_ros.tracking import TrackerConfig


def _frame(num_hands=2, seed=4, index=0):
    return render_frame(seed, index, clean_scene_config(320, 240, num_hands))


@pytest.fixture(scope="module")
def pipeline():
    return HandPosePipeline(PipelineConfig(model_path="random:lite", device="cpu", refine_iterations=1))


def test_resolve_device_falls_back_to_cpu_with_a_reason():
    dev, warn = resolve_device("cpu")
    assert dev.type == "cpu" and warn is None
    if not torch.cuda.is_available():
        dev, warn = resolve_device("cuda:1")
        assert dev.type == "cpu" and "CUDA is not available" in warn
        assert resolve_device("auto") == (torch.device("cpu"), None)
    with pytest.raises(ValueError, match="auto, cpu, cuda"):
        resolve_device("tpu")


def test_missing_and_corrupt_model_files_give_clear_errors(tmp_path):
    with pytest.raises(ModelLoadError, match="not found"):
        load_model(str(tmp_path / "nope.pt"), torch.device("cpu"))
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"this is not a checkpoint")
    with pytest.raises(ModelLoadError, match="cannot load model file"):
        load_model(str(bad), torch.device("cpu"))


def test_hands_are_confirmed_after_min_hits_and_keep_their_ids(pipeline):
    pipeline.reset()
    f = _frame(num_hands=2)
    results = [pipeline.process(f.color, f.depth.astype(np.float32), tuple(f.cam), stamp=0.1 * i) for i in range(4)]
    hits = pipeline.tracker.config.min_hits
    assert all(len(r.hands) == 0 for r in results[: hits - 1])
    assert len(results[-1].hands) == 2
    assert {h.track_id for h in results[-1].hands} == {h.track_id for h in results[-2].hands}
    gt_centres = f.joints_mm.mean(axis=1) / 1000.0
    for h in results[-1].hands:
        assert h.joints_m.shape == (21, 3) and h.pixels.shape == (21, 2)
        # every published hand is one of the two real hands: its crop centre lies within the cube
        assert np.min(np.linalg.norm(gt_centres - h.center_m, axis=1)) < 0.125
        x, y, w, hh = h.roi
        assert 0 <= x < 320 and 0 <= y < 240 and w > 0 and hh > 0
        # pixels are the projection of the joints through the frame's intrinsics
        fx, fy, cx, cy = f.cam
        assert np.allclose(h.pixels[:, 0], h.joints_m[:, 0] * fx / h.joints_m[:, 2] + cx, atol=1e-6)


def test_stage_timings_of_a_frame(pipeline):
    """The per-frame profile the node reports: every stage present, point sampling inside crop,
    crop + forward + decode inside network (two passes with refine_iterations=1), all inside total."""
    pipeline.reset()
    f = _frame(num_hands=2)
    for i in range(3):
        r = pipeline.process(f.color, f.depth.astype(np.float32), tuple(f.cam), stamp=0.1 * i)
    t = r.timings_ms
    for k in ("localize", "crop", "point_sampling", "forward", "decode", "network", "tracking_out", "total"):
        assert t[k] > 0.0, k
    assert t["point_sampling"] < t["crop"]
    assert t["crop"] + t["forward"] + t["decode"] <= t["network"] + 1e-6
    assert t["localize"] + t["network"] + t["tracking_out"] <= t["total"] + 1e-6


def test_same_input_same_output(pipeline):
    f = _frame(num_hands=1, seed=9)
    outs = []
    for _ in range(2):
        pipeline.reset()
        for i in range(3):
            r = pipeline.process(f.color, f.depth.astype(np.float32), tuple(f.cam), stamp=float(i))
        outs.append(r.hands[0].joints_m)
    assert np.array_equal(outs[0], outs[1])


def test_no_depth_no_hands(pipeline):
    pipeline.reset()
    f = _frame(num_hands=1)
    for i in range(4):
        r = pipeline.process(f.color, np.zeros(f.depth.shape, np.float32), tuple(f.cam), stamp=float(i))
        assert r.hands == [] and r.detections == 0


def test_a_3x3_camera_matrix_works_like_fx_fy_cx_cy(pipeline):
    f = _frame(num_hands=1, seed=9)
    fx, fy, cx, cy = (float(v) for v in f.cam)
    forms = [(fx, fy, cx, cy), CameraIntrinsics(fx, fy, cx, cy).matrix()]  # the 3×3 K once failed in the crop
    outs = []
    for cam in forms:
        pipeline.reset()
        for i in range(3):
            r = pipeline.process(f.color, f.depth.astype(np.float32), cam, stamp=float(i))
        assert len(r.hands) == 1
        outs.append(r.hands[0].joints_m)
    assert np.array_equal(outs[0], outs[1])


def test_lower_layers_take_their_config_whole():
    loc = LocalizerConfig(max_hands=4, min_range_mm=100.0, max_range_mm=2000.0, min_score=0.3)
    trk = TrackerConfig(min_hits=1, min_coast_confidence=0.5)
    p = HandPosePipeline(PipelineConfig(model_path="random:lite", device="cpu", localizer=loc, tracker=trk, cube_mm=280.0))
    assert p.localizer.config == loc and p.tracker.config == trk
    assert p.crop_cfg.cube_mm == (280.0, 280.0, 280.0) and p.crop_cfg == CropConfig.for_model(p.model_cfg, 280.0)
    loc2 = LocalizerConfig(max_hands=3)
    p.apply_config(PipelineConfig(model_path="random:lite", device="cpu", localizer=loc2))
    assert p.localizer.config == loc2 and p.tracker.config == TrackerConfig()


def test_node_parameters_default_to_the_core_defaults_and_convert_metres_once():
    from kpfusion_ros.node_config import NodeConfig, pipeline_config

    assert pipeline_config(NodeConfig()) == PipelineConfig()
    p = pipeline_config(NodeConfig(max_hands=3, min_range=0.3, max_range=1.5, cube_size=0.28, min_hand_score=0.2,
                                   max_hand_speed=0.5, refine_iterations=2, min_refine_confidence=0.1,
                                   min_pose_confidence=0.4, min_coast_confidence=0.6))
    assert (p.localizer.max_hands, p.localizer.min_range_mm, p.localizer.max_range_mm, p.localizer.min_score) == \
        (3, 300.0, 1500.0, 0.2)
    assert p.cube_mm == 280.0 and p.refine_iterations == 2
    t = p.tracker
    assert (t.gate_speed_mm_s, t.min_refine_confidence, t.min_pose_confidence, t.min_coast_confidence) == \
        (500.0, 0.1, 0.4, 0.6)


def test_torch_threads_sets_the_process_threads_only_when_asked():
    from dataclasses import replace

    from kpfusion_ros.node_config import NodeConfig, pipeline_config

    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        HandPosePipeline(PipelineConfig(model_path="random:lite", device="cpu"))
        assert torch.get_num_threads() == 2                           # 0: torch's setting is left alone
        assert pipeline_config(NodeConfig(torch_threads=1)).torch_threads == 1
        HandPosePipeline(pipeline_config(NodeConfig(torch_threads=1, model_path="random:lite", device="cpu")))
        assert torch.get_num_threads() == 1
        with pytest.raises(ValueError, match="torch_threads must be >= 0"):
            HandPosePipeline(PipelineConfig(model_path="random:lite", device="cpu", torch_threads=-1))
        assert "torch_threads must be in [0, 256]" in " ".join(replace(NodeConfig(), torch_threads=-1).validate())
    finally:
        torch.set_num_threads(before)


def test_random_weights_leave_the_global_rng_alone():
    torch.manual_seed(123)
    before = torch.get_rng_state()
    m1, _, _ = load_model("random:lite", torch.device("cpu"))
    assert torch.equal(torch.get_rng_state(), before)
    torch.rand(5)  # a different global state: still the same weights
    m2, _, _ = load_model("random:lite", torch.device("cpu"))
    for a, b in zip(m1.state_dict().values(), m2.state_dict().values()):
        assert torch.equal(a, b)


def test_a_model_given_in_code_needs_its_config():
    m, cfg, _ = load_model("random:lite", torch.device("cpu"))
    with pytest.raises(ValueError, match="model_cfg"):
        HandPosePipeline(PipelineConfig(device="cpu"), model=m)
    assert HandPosePipeline(PipelineConfig(device="cpu"), model=m, model_cfg=cfg).crop_cfg.num_points == cfg.num_points
