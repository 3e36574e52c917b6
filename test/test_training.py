"""Training: losses, augmentation, data path, resumable trainer (tiny model, CPU)."""

import math
import os

import torch

from kpfusion_ros.model import build_model
from kpfusion_ros.preprocessing import CropConfig
from kpfusion_ros.training import TrainConfig, Trainer, smooth_l1
from kpfusion_ros.training.augment import rotate_crops
from kpfusion_ros.training.data import DataConfig, SyntheticCropStream

TINY = dict(crop_size=64, num_points=64, trunk_widths=[8, 8, 16, 16], feature_dim=16, fa_samples=8,
            tr_ffn=16, cross_ffn=16, dense_ffn=16)
DATA = DataConfig(width=160, height=120, frames_per_step=3, pool=8, refresh=2, workers=0)


def test_smooth_l1_matches_reference_formula():
    z = torch.tensor([0.0, 0.005, -0.02, 0.5])
    ref = torch.where(z.abs() < 0.01, 0.5 * z ** 2, 0.01 * (z.abs() - 0.005)).mean()
    assert torch.allclose(smooth_l1(z, torch.zeros_like(z)), ref)


def test_rotation_zero_is_identity_and_full_turn_keeps_labels():
    s = SyntheticCropStream(DataConfig(width=160, height=120, frames_per_step=2, augment=False),
                            CropConfig(crop_size=64, num_points=64))
    hb = s.batch(0)
    c = hb.crops
    args = (c.rgb, c.depth, c.center, c.M, c.cube, c.cam, hb.xyz_gt)
    rgb, d, pcl, xyz, uvd = rotate_crops(*args, torch.zeros(len(hb)), 64)
    assert torch.equal(d, c.depth) and torch.equal(rgb, c.rgb)
    assert torch.allclose(xyz, hb.xyz_gt, atol=1e-5) and torch.allclose(uvd, hb.uvd_gt, atol=1e-4)
    _, _, _, xyz2, _ = rotate_crops(*args, torch.full((len(hb),), 2 * math.pi), 64)
    assert torch.allclose(xyz2, hb.xyz_gt, atol=1e-3)
    _, _, _, xyz3, _ = rotate_crops(*args, torch.full((len(hb),), math.pi / 2), 64)
    assert torch.allclose(xyz3[..., 2], hb.xyz_gt[..., 2])  # re-lifted with their own depth


def test_stream_is_deterministic_per_step():
    cc = CropConfig(crop_size=64, num_points=64)
    a = SyntheticCropStream(DATA, cc).batch(1)
    b = SyntheticCropStream(DATA, cc).batch(1)
    assert torch.equal(a.crops.depth, b.crops.depth) and torch.equal(a.xyz_gt, b.xyz_gt)
    assert set(a.modes) <= {"rot", "com", "sc", "none"}


def test_train_resume_and_losses(tmp_path):
    cfg = TrainConfig(preset="official", overrides=TINY, data=DATA, steps=4, log_every=1, ckpt_every=2)
    tr = Trainer(cfg, str(tmp_path / "a"), progress=False)
    tr.fit()
    row = tr.history[-1]
    assert all(math.isfinite(v) for v in row.values())
    for k in ("map.depth", "awr.depth", "map.rgb", "awr.rgb", "pose.b1.init", "pose.b2.final", "whm.b1", "whm.b2"):
        assert k in row
    assert os.path.isfile(tmp_path / "a" / "metrics.csv") and os.path.isfile(tmp_path / "a" / "loss.png")
    assert tr.opt.param_groups[0]["lr"] == 8e-4 * 0.1  # decayed at round(4·11/15) = 3
    # resume: 2 steps, stop, resume to 4 == straight 4
    cfg2 = TrainConfig(preset="official", overrides=TINY, data=DATA, steps=4, log_every=1, ckpt_every=2)
    t2 = Trainer(cfg2, str(tmp_path / "b"), progress=False)
    t2.cfg.steps = 2
    t2.fit()
    t3 = Trainer(cfg2, str(tmp_path / "b"), progress=False)
    t3.cfg.steps = 4
    t3.fit()
    assert t3.step == 4
    for (n, p), q in zip(tr.model.state_dict().items(), t3.model.state_dict().values()):
        if p.is_floating_point():
            assert torch.allclose(p, q, atol=1e-5), n


def test_depth_only_gets_only_its_losses(tmp_path):
    cfg = TrainConfig(preset="depth_only", overrides=TINY, data=DATA, steps=1, log_every=1)
    tr = Trainer(cfg, str(tmp_path), progress=False)
    tr.fit()
    keys = set(tr.history[-1])
    assert "map.depth" in keys and not any(k.startswith(("pose.", "whm.", "map.rgb")) for k in keys)


def test_trainer_leaves_global_random_state_and_tf32_alone(tmp_path):
    from kpfusion_ros.training.trainer import allow_tf32

    torch.manual_seed(77)
    before = torch.get_rng_state()
    flags = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
    cfg = TrainConfig(preset="official", overrides=TINY, data=DATA, steps=1, log_every=1, init_seed=3)
    a = Trainer(cfg, str(tmp_path / "a"), progress=False)
    row_a = a.train_step(0)
    assert torch.equal(torch.get_rng_state(), before)
    assert (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32) == flags
    # the weights are the init_seed's, whatever the global state was
    torch.rand(10)
    b = Trainer(cfg, str(tmp_path / "b"), progress=False)
    torch.manual_seed(3)
    ref = build_model(cfg.model_config())
    for p, q in zip(b.model.state_dict().values(), ref.state_dict().values()):
        assert torch.equal(p, q)
    assert b.train_step(0) == row_a  # dropout draws from the trainer's own state too
    with allow_tf32(True):
        assert torch.backends.cuda.matmul.allow_tf32 and torch.backends.cudnn.allow_tf32
    assert (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32) == flags


def test_export_writes_the_runs_weights_and_a_sidecar(tmp_path):
    import json

    from helpers.cli import run_cli

    from kpfusion_ros.checkpoint import load_checkpoint

    cfg = TrainConfig(preset="lite", overrides=TINY, data=DATA, steps=2, log_every=1, ckpt_every=1)
    tr = Trainer(cfg, str(tmp_path / "run"), progress=False)
    tr.fit()
    (tmp_path / "metrics.json").write_text(json.dumps({"mpjpe_mm": 12.5}))
    res = run_cli("kpfusion_ros.tools.export", str(tmp_path / "run"), str(tmp_path / "w.pt"), "--half",
                  "--extra", str(tmp_path / "metrics.json"))
    assert res.returncode == 0, res.stderr[-3000:]
    model, mcfg, meta = load_checkpoint(tmp_path / "w.pt")
    for (n, p), q in zip(tr.model.state_dict().items(), model.state_dict().values()):
        if p.is_floating_point():
            assert torch.allclose(p.half().float(), q.float()), n  # the run's weights, stored as fp16
    side = json.loads((tmp_path / "w.json").read_text())
    assert side["steps"] == 2 and side["hands_seen"] == 2 * DATA.frames_per_step
    assert side["weights_dtype"] == "float16" and side["metrics"]["metrics"]["mpjpe_mm"] == 12.5
    assert side["model_config"]["crop_size"] == 64
    res = run_cli("kpfusion_ros.tools.export", str(tmp_path / "nothing"), str(tmp_path / "x.pt"))
    assert res.returncode != 0 and "last.pt" in res.stderr


def test_init_weights_starts_a_run_from_an_exported_checkpoint(tmp_path):
    """--init-weights: a fine-tune starts from the exported weights (fp16 stored, fp32 trained), with a fresh
    optimizer; a config that differs is refused by name; the run's own last.pt still resumes first."""
    import pytest

    from kpfusion_ros.checkpoint import CheckpointError, save_checkpoint

    cfg = TrainConfig(preset="lite", overrides=TINY, data=DATA, steps=1, log_every=1, ckpt_every=1)
    src = Trainer(cfg, str(tmp_path / "src"), progress=False)
    src.fit()
    save_checkpoint(tmp_path / "w.pt", src.model, src.model_cfg, {"source": "test"}, half=True)
    ft_cfg = TrainConfig(preset="lite", overrides=TINY, data=DATA, steps=2, log_every=1, ckpt_every=1,
                         init_weights=str(tmp_path / "w.pt"), init_seed=7)
    ft = Trainer(ft_cfg, str(tmp_path / "ft"), progress=False)
    for (n, p), q in zip(src.model.state_dict().items(), ft.model.state_dict().values()):
        if p.is_floating_point():
            assert q.dtype == torch.float32 and torch.equal(p.half().float(), q), n
    drawn = Trainer(TrainConfig(preset="lite", overrides=TINY, data=DATA, init_seed=7), str(tmp_path / "d"),
                    progress=False)
    assert any(not torch.equal(a, b) for a, b in zip(drawn.model.state_dict().values(), ft.model.state_dict().values())
               if a.is_floating_point())
    assert not ft.opt.state  # fresh optimizer
    ft.fit()
    assert ft.step == 2
    again = Trainer(ft_cfg, str(tmp_path / "ft"), progress=False)
    again.resume_if_possible()
    assert again.step == 2
    for a, b in zip(ft.model.state_dict().values(), again.model.state_dict().values()):
        assert torch.equal(a, b)
    bigger = dict(TINY, feature_dim=32)
    with pytest.raises(CheckpointError, match="feature_dim"):
        Trainer(TrainConfig(preset="lite", overrides=bigger, data=DATA, init_weights=str(tmp_path / "w.pt")),
                str(tmp_path / "bad"), progress=False)


def test_first_map_awr_term_reuses_the_forward_decode_exactly():
    """compute_losses takes the first map's AWR-decoded pose from the forward pass (out.initial_uvd) instead
    of decoding it again: the term and the gradient it sends into the model are those of a fresh decode."""
    from kpfusion_ros.model import build_model, preset
    from kpfusion_ros.model.awr import decode_awr
    from kpfusion_ros.model.example_inputs import example_inputs
    from kpfusion_ros.training.losses import compute_losses, smooth_l1

    cfg = preset("lite")
    torch.manual_seed(0)
    model = build_model(cfg).train()
    x = example_inputs(cfg, batch=2, seed=4)
    xyz = x["pcl"][:, :21].clone()
    uvd = torch.rand(2, 21, 3) * 1.2 - 0.6
    o = model(**x)
    terms = compute_losses(o, x["depth"], xyz, uvd, cfg.awr_kernel)
    again = smooth_l1(decode_awr(o.maps[0], x["depth"], cfg.awr_kernel), uvd)
    assert terms["awr.depth"].item() > 0
    torch.testing.assert_close(terms["awr.depth"], again, rtol=0, atol=0)  # the same decode, the same value
    g_reused = torch.autograd.grad(terms["awr.depth"], o.maps[0], retain_graph=True)[0]
    g_again = torch.autograd.grad(again, o.maps[0])[0]
    assert g_reused.abs().max() > 0
    torch.testing.assert_close(g_reused, g_again, rtol=0, atol=0)


def test_hidden_weight_trains_on_rendered_crops_and_is_refused_elsewhere(tmp_path):
    """--hidden-weight: a run on rendered crops draws hidden hands more often (one step runs); it is refused for
    full-frame rendering, where no seen count exists, and for a weight that is not positive."""
    import dataclasses

    import pytest

    data = dataclasses.replace(DATA, hidden_weight=4.0)
    tr = Trainer(TrainConfig(preset="lite", overrides=TINY, data=data, steps=1, log_every=1), str(tmp_path / "a"),
                 progress=False)
    tr.fit()
    assert tr.step == 1 and math.isfinite(tr.history[-1]["total"])
    both = dataclasses.replace(data, min_sensed=0.2, front_object=0.5)  # unsensed hands out, items in front
    tr = Trainer(TrainConfig(preset="lite", overrides=TINY, data=both, steps=1, log_every=1), str(tmp_path / "c"),
                 progress=False)
    tr.fit()
    assert tr.step == 1 and math.isfinite(tr.history[-1]["total"])
    for bad, msg in ((dataclasses.replace(data, render="frames"), "rendered crops"),
                     (dataclasses.replace(DATA, hidden_weight=-1.0), "must be > 0"),
                     (dataclasses.replace(DATA, min_sensed=0.2, render="frames"), "min_sensed applies"),
                     (dataclasses.replace(DATA, min_sensed=1.5), r"min_sensed must be in \[0, 1\]"),
                     (dataclasses.replace(DATA, front_object=-0.1), r"front_object must be in \[0, 1\]")):
        with pytest.raises(ValueError, match=msg):
            Trainer(TrainConfig(preset="lite", overrides=TINY, data=bad, steps=1), str(tmp_path / "b"), progress=False)
