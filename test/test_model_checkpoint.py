"""Checkpoint save/load and import of the authors' checkpoint, synthesized from the key list
official_state_dict_keys.tsv (random values of the listed shapes and dtypes)."""

from pathlib import Path

import pytest
import torch

from kpfusion_ros.checkpoint import (AuthorsCheckpointError, CheckpointError, import_authors_checkpoint,
                                     load_checkpoint, official_key, official_key_map, save_checkpoint)
from kpfusion_ros.model import build_model, preset
from kpfusion_ros.model.example_inputs import example_inputs
from helpers.cli import run_cli

TSV = Path("/work/shared/spec/official_state_dict_keys.tsv")
if not TSV.exists():
    TSV = Path(__file__).resolve().parents[1] / "shared" / "spec" / "official_state_dict_keys.tsv"


def _keys():
    out = {}
    for line in TSV.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        k, shape, dtype = line.split("\t")
        out[k] = (tuple(eval(shape)), dtype.strip())
    return out


@pytest.fixture(scope="module")
def authors_sd():
    pytest.importorskip("torch")
    if not TSV.exists():
        pytest.skip("official_state_dict_keys.tsv not available")
    g = torch.Generator().manual_seed(0)
    sd = {}
    for k, (shape, dtype) in _keys().items():
        if dtype == "int64":
            sd[k] = torch.randint(0, 100, shape, generator=g, dtype=torch.int64)
        elif k.endswith("running_var"):
            sd[k] = torch.rand(shape, generator=g) + 0.5   # a valid variance, so eval forward is finite
        elif "word_embeddings" in k:
            sd[k] = torch.zeros(shape)   # unused 30522×128 tables: values irrelevant, keep the fixture fast
        else:  # fan-in scaled so that an eval forward pass stays finite
            fan_in = max(1, int(torch.tensor(shape[1:]).prod().item())) if len(shape) >= 2 else 1
            sd[k] = torch.randn(shape, generator=g) / fan_in ** 0.5
    return sd


def test_tsv_has_1368_entries(authors_sd):
    assert len(authors_sd) == 1368


def test_key_map_is_total_and_shape_exact(authors_sd):
    ours = build_model(preset("official")).state_dict()
    mp = official_key_map()
    assert set(mp) == set(ours)
    assert len(set(mp.values())) == len(mp)         # injective
    for name, key in mp.items():
        assert key in authors_sd, (name, key)
        assert tuple(authors_sd[key].shape) == tuple(ours[name].shape), name
    # spot checks of the explicit mapping
    assert official_key("backbone_d.trunk.layer2.0.downsample.0.weight") == "module.backbone_d.backbone.layer2.0.downsample.0.weight"
    assert official_key("backbone_rgb.fusion_layer2.conv3.bias") == "module.backbone_rgb.fusion_layer2.conv3.conv.bias"
    assert official_key("backbone_d.up4.0.skip_layer.weight") == "module.backbone_d.up4.0.skip_layer.conv.weight"
    assert official_key("stages.1.depth_kfam.fa.bn_blocks.2.0.running_var") == "module.block2.FA.bn_blocks.2.0.running_var"
    assert official_key("stages.0.final_tr.layers.3.attn_norm.weight") == \
        "module.block1.final_TR.bert.encoder.layer.3.attention.output.LayerNorm.weight"
    assert official_key("stages.0.cross_tr.layers.0.out_proj.weight") == \
        "module.block1.crossTR.decoder.3.multihead_attn.out_proj.weight"
    assert official_key("stages.0.rgb_kfam.weight_dis") == "module.block1.weight_dis"


def test_import_puts_every_used_key_in_place(authors_sd):
    model, report = import_authors_checkpoint({"model": authors_sd, "epoch": 14})
    ours = model.state_dict()
    for name, key in official_key_map().items():
        assert torch.equal(ours[name], authors_sd[key].to(ours[name].dtype)), name
    assert report["loaded"] == len(ours) == 1212
    unused = set(report["unused"])
    assert len(unused) == 1368 - 1212
    assert "module.block1.init_TR.bert.embeddings.word_embeddings.weight" in unused
    assert "module.block2.crossTR.decoder.0.linear1.weight" in unused
    assert "module.block1.crossTR.decoder.3.norm1.weight" in unused
    assert "module.block1.sampling_offsets.weight" in unused
    assert "module.block1.init_TR.bert.pooler.dense.weight" in unused
    assert not any(".decoder.3." in k and "norm1" not in k for k in unused)
    assert not model.training
    with torch.no_grad():
        out = model(**example_inputs(preset("official"), 1))
    assert torch.isfinite(out.final).all()


def test_import_accepts_plain_state_dict_without_prefix(authors_sd):
    sd = {k[len("module."):]: v for k, v in authors_sd.items() if not k.startswith("module.block2.")}
    model, report = import_authors_checkpoint(sd)
    assert len(model.stages) == 1 and report["config"].num_stages == 1


def test_import_missing_key_is_named(authors_sd):
    sd = dict(authors_sd)
    del sd["module.block2.FA.fusion.0.weight"]
    with pytest.raises(AuthorsCheckpointError, match=r"module\.block2\.FA\.fusion\.0\.weight"):
        import_authors_checkpoint({"model": sd})


def test_import_bad_shape_is_named(authors_sd):
    sd = dict(authors_sd)
    sd["module.block1.init_TR.bert.encoder.layer.0.intermediate.dense.weight"] = torch.zeros(512, 128)
    with pytest.raises(AuthorsCheckpointError, match=r"layer\.0\.intermediate\.dense\.weight: \(512, 128\)"):
        import_authors_checkpoint({"model": sd})


def test_import_tolerates_missing_unused_keys(authors_sd):
    sd = {k: v for k, v in authors_sd.items() if "crossTR.decoder.0" not in k and "pooler" not in k
          and not k.endswith("up4.0.skip_layer.conv.weight")}
    model, report = import_authors_checkpoint({"model": sd})
    assert "backbone_d.up4.0.skip_layer.weight" in report["kept_init"]


def test_cli_help_and_run(tmp_path, authors_sd):
    res = run_cli("kpfusion_ros.tools.import_checkpoint", "--help")
    assert res.returncode == 0 and "usage:" in res.stdout
    src = tmp_path / "authors.pth"
    torch.save({"model": {k: v for k, v in authors_sd.items() if "word_embeddings" not in k}, "epoch": 1}, src)
    out = tmp_path / "out.pt"
    res = run_cli("kpfusion_ros.tools.import_checkpoint", str(src), str(out), "--half")
    assert res.returncode == 0, res.stderr[-3000:]
    model, cfg, meta = load_checkpoint(out)
    assert cfg == preset("official")
    assert meta["provenance"]["source"] == "authors.pth" and meta["provenance"]["dtype"] == "float16"
    w = authors_sd["module.block1.FA.fusion.0.weight"]
    assert torch.equal(model.stages[0].depth_kfam.fa.fusion[0].weight, w.half().float())
    res = run_cli("kpfusion_ros.tools.import_checkpoint", str(tmp_path / "nope.pth"), str(out))
    assert res.returncode == 1 and "not found" in res.stderr


def test_save_load_roundtrip(tmp_path):
    cfg = preset("lite", num_points=128)
    torch.manual_seed(0)
    m = build_model(cfg)
    p = tmp_path / "m.pt"
    save_checkpoint(p, m, cfg, {"note": "test"})
    m2, cfg2, meta = load_checkpoint(p)
    assert cfg2 == cfg and meta["provenance"]["note"] == "test" and meta["format"] == "kpfusion_ros/1"
    for (n, a), (_, b) in zip(m.state_dict().items(), m2.state_dict().items()):
        assert torch.equal(a, b), n


def test_load_errors(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "missing.pt")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a pickle at all")
    with pytest.raises(CheckpointError, match="not a torch checkpoint"):
        load_checkpoint(junk)
    authors = tmp_path / "authors.pt"
    torch.save({"model": {"a": torch.zeros(1)}}, authors)
    with pytest.raises(CheckpointError, match="not a kpfusion_ros checkpoint.*import"):
        load_checkpoint(authors)
    wrong = tmp_path / "wrong.pt"
    torch.save({"format": "other/9", "config": {}, "state_dict": {}}, wrong)
    with pytest.raises(CheckpointError, match="unsupported checkpoint format"):
        load_checkpoint(wrong)
    cfg = preset("lite", num_points=128)
    m = build_model(cfg)
    mism = tmp_path / "mism.pt"
    save_checkpoint(mism, m, preset("lite", feature_dim=32), {})
    with pytest.raises(CheckpointError, match="mismatch"):
        load_checkpoint(mism)
    badcfg = tmp_path / "badcfg.pt"
    torch.save({"format": "kpfusion_ros/1", "config": {"bogus": 1}, "state_dict": {}}, badcfg)
    with pytest.raises(CheckpointError, match="invalid config.*bogus"):
        load_checkpoint(badcfg)
