"""Shapes, gradient flow, determinism and parameter counts of the networks (CPU, batch ≤ 2)."""

import dataclasses

import pytest
import torch

from kpfusion_ros.model import KPFusionOutput, build_model, count_parameters, preset
from kpfusion_ros.model.example_inputs import example_inputs

J = 21


def _run(cfg, batch=2, seed=0, train=False):
    torch.manual_seed(seed)
    m = build_model(cfg)
    m.train(train)
    return m, m(**example_inputs(cfg, batch, seed=1))


@pytest.mark.parametrize("name,stages", [("official_1stage", 1), ("official", 2), ("official_3stage", 3), ("lite", 1)])
def test_kpfusion_shapes(name, stages):
    cfg = dataclasses.replace(preset(name), num_points=256) if name != "official" else preset(name)
    m, out = _run(cfg)
    s = cfg.crop_size // 4
    assert isinstance(out, KPFusionOutput)
    assert [tuple(x.shape) for x in out.maps] == [(2, 5 * J, s, s)] * 2
    names = [f"b{i}.{k}" for i in range(1, stages + 1) for k in ("init", "final")]
    assert out.pose_names == names
    assert all(p.shape == (2, J, 3) and torch.isfinite(p).all() for p in out.poses)
    assert [tuple(w.shape) for w in out.whm] == [(2, J, s, s)] * stages
    assert ((out.whm[0] >= 0) & (out.whm[0] <= 1)).all()  # sigmoid (saturates at init, as the authors)
    assert out.initial.shape == out.initial_uvd.shape == (2, J, 3)
    assert out.final is out.poses[-1]
    uvd = m.decode_map(out.maps[1], example_inputs(cfg, 2, seed=1)["depth"])
    assert uvd.shape == (2, J, 3)


@pytest.mark.parametrize("arch,nmaps,nposes", [("depth_only", 1, 0), ("rgb_only", 1, 0), ("dense_fusion", 3, 1)])
def test_baseline_shapes(arch, nmaps, nposes):
    cfg = preset("lite", arch=arch)
    _, out = _run(cfg)
    assert len(out.maps) == nmaps and all(x.shape == (2, 5 * J, 32, 32) for x in out.maps)
    assert len(out.poses) == nposes and out.whm == []
    assert out.final.shape == (2, J, 3)
    if nposes == 0:
        assert out.final is out.initial


@pytest.mark.parametrize("flags,names,nwhm", [
    (dict(use_hwm=False), ["b1.init", "b1.final"], 0),
    (dict(use_gam=False), ["b1.init", "b1.final"], 1),
    (dict(use_hwm=False, use_gam=False), ["b1.init", "b1.final"], 0),       # Table 5 ID 4
    (dict(use_pcl=False, use_rgb_proj=False, use_refine=False), ["b1.final"], 1),  # ID 1
    (dict(use_rgb_proj=False), ["b1.init", "b1.final"], 1),                 # ID 2
    (dict(use_refine=False), ["b1.final"], 1),                              # ID 3
])
def test_ablation_switches(flags, names, nwhm):
    cfg = preset("lite", num_points=128, **flags)
    _, out = _run(cfg, batch=1)
    assert out.pose_names == names and len(out.whm) == nwhm
    assert torch.isfinite(out.final).all()


def test_all_ablations_off_is_rejected():
    with pytest.raises(ValueError, match="depth_only"):
        preset("lite", use_hwm=False, use_gam=False, use_pcl=False, use_rgb_proj=False)


def _loss(m, out, inputs):
    g = torch.Generator().manual_seed(3)
    terms = list(out.maps) + list(out.poses) + list(out.whm) + [out.initial_uvd]
    terms.append(m.decode_map(out.maps[-1], inputs["depth"]))
    return sum((t * torch.randn(t.shape, generator=g)).sum() for t in terms)


@pytest.mark.parametrize("name", ["official", "lite", "dense_fusion"])
def test_gradients_reach_every_used_parameter(name):
    cfg = preset(name) if name != "dense_fusion" else preset("lite", arch="dense_fusion")
    torch.manual_seed(0)
    m = build_model(cfg).train()
    x = example_inputs(cfg, 2, seed=1)
    out = m(**x)
    _loss(m, out, x).backward()
    unused = set(m.unused_parameter_names())
    no_grad = [n for n, p in m.named_parameters() if n not in unused and (p.grad is None or not p.grad.abs().sum() > 0)]
    assert no_grad == []
    assert all(dict(m.named_parameters())[n].grad is None for n in unused)
    if name == "official":
        assert len(unused) == 2 * 2 * 6  # 6 Residuals with in == out per backbone, weight + bias


def test_detach_pattern_stages_do_not_backprop_into_depth_awr_pose():
    """Reference §1.4: the AWR initial pose and the depth weight logits enter the stages detached."""
    cfg = preset("lite", num_points=128)
    torch.manual_seed(0)
    m = build_model(cfg).train()
    out = m(**example_inputs(cfg, 2, seed=1))
    out.poses[-1].sum().backward()
    assert m.backbone_d.finals[0].weight.grad is None or m.backbone_d.finals[0].weight.grad.abs().sum() == 0
    assert m.backbone_d.finals[2].weight.grad is None or m.backbone_d.finals[2].weight.grad.abs().sum() == 0
    assert m.backbone_d.fusion_layer2.conv3.weight.grad.abs().sum() > 0   # features are not detached


@pytest.mark.parametrize("train", [False, True])
def test_cpu_determinism(train):
    cfg = preset("lite", num_points=128)
    outs = [_run(cfg, batch=1, seed=5, train=train)[1] for _ in range(2)]
    for a, b in zip(outs[0].poses + outs[0].maps, outs[1].poses + outs[1].maps):
        assert torch.equal(a, b)


def test_official_parameter_counts_match_reference_section8():
    m = build_model(preset("official"))
    n = lambda mod: sum(p.numel() for p in mod.parameters())
    assert n(m.backbone_d.trunk) == 11_170_240
    assert n(m.backbone_rgb.trunk) == 11_176_512
    assert n(m.backbone_d) == 13_702_121 and n(m.backbone_rgb) == 13_708_393
    assert [n(s) for s in m.stages] == [1_076_069, 1_076_069]
    s = m.stages[0]
    assert n(s.depth_kfam.fa) == 168_832
    assert n(s.intra_tr) == 366_022 and n(s.final_tr) == 366_415
    assert n(s.cross_tr) == 104_960
    c = count_parameters(m)
    assert c["used"] == 28_699_804
    assert c["total"] == 28_699_804 + 2 * 431_424   # + the never-used Residual skip convs


def test_lite_is_small():
    c = count_parameters(build_model(preset("lite")))
    assert c["total"] <= 6_000_000
    assert c["total"] * 2 <= 12 * 1024 * 1024
