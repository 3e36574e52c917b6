"""Checkpoints: our own format, and import of the authors' KeypointFusion checkpoint.

Our format (``FORMAT``): ``torch.save`` of a dict ``{"format": "kpfusion_ros/1",
"config": ModelConfig.to_dict(), "state_dict": …, "provenance": {...}}``.

Authors' format (reference §6): ``{"model": DataParallel state_dict ("module." prefix),
"optimizer": …, "epoch": …}``. :func:`official_key` is the explicit name mapping from our
parameter names to theirs; keys of theirs that no parameter maps to are unused by the
computation and are reported (BERT embedding tables, pooler, position_ids, crossTR
decoder.0-2, the blocks' never-called layers, …).
"""

from __future__ import annotations

import logging
import os
import re

import torch

from .model import ModelConfig, build_model, preset

FORMAT = "kpfusion_ros/1"
log = logging.getLogger(__name__)


class CheckpointError(RuntimeError):
    """A checkpoint file that cannot be used; the message names the problem."""


class AuthorsCheckpointError(CheckpointError):
    """The authors' checkpoint lacks, or mis-shapes, keys the computation uses."""


# ---------------------------------------------------------------------------------------
# our format
# ---------------------------------------------------------------------------------------
def save_checkpoint(path, model, config: ModelConfig, provenance: dict, half: bool = False) -> None:
    """Write ``model``'s state dict with its config and provenance (fp16 floats when ``half``)."""
    sd = {k: (v.detach().half() if half and v.is_floating_point() else v.detach()).cpu().clone()
          for k, v in model.state_dict().items()}
    prov = dict(provenance)
    prov.setdefault("dtype", "float16" if half else "float32")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    torch.save({"format": FORMAT, "config": config.to_dict(), "state_dict": sd, "provenance": prov}, path)


def load_checkpoint(path, map_location="cpu"):
    """Read a checkpoint written by :func:`save_checkpoint` → (model in eval mode, config, meta)."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise CheckpointError(f"checkpoint file not found: {path}")
    try:
        obj = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # noqa: BLE001
        raise CheckpointError(f"{path} is not a torch checkpoint ({type(e).__name__}: {e})") from e
    if not isinstance(obj, dict) or "format" not in obj:
        hint = " (an authors' checkpoint? use kpfusion-import-checkpoint)" if isinstance(obj, dict) and "model" in obj else ""
        raise CheckpointError(f"{path} is not a kpfusion_ros checkpoint: no 'format' entry{hint}")
    if obj["format"] != FORMAT:
        raise CheckpointError(f"{path}: unsupported checkpoint format {obj['format']!r}, expected {FORMAT!r}")
    for k in ("config", "state_dict"):
        if k not in obj:
            raise CheckpointError(f"{path}: checkpoint has no {k!r} entry")
    try:
        config = ModelConfig.from_dict(obj["config"])
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"{path}: invalid config: {e}") from e
    model = build_model(config)
    sd = obj["state_dict"]
    own = model.state_dict()
    missing = [k for k in own if k not in sd]
    unexpected = [k for k in sd if k not in own]
    shapes = [f"{k}: checkpoint {tuple(sd[k].shape)} vs model {tuple(v.shape)}"
              for k, v in own.items() if k in sd and tuple(sd[k].shape) != tuple(v.shape)]
    if missing or unexpected or shapes:
        raise CheckpointError(
            f"{path}: config/state_dict mismatch: missing {missing[:10]}{'…' if len(missing) > 10 else ''}, "
            f"unexpected {unexpected[:10]}{'…' if len(unexpected) > 10 else ''}, shape {shapes[:10]}")
    model.load_state_dict(sd)
    model.to(map_location).eval()
    meta = {"format": obj["format"], "provenance": obj.get("provenance", {})}
    return model, config, meta


# ---------------------------------------------------------------------------------------
# the authors' checkpoint
# ---------------------------------------------------------------------------------------
_BERT = [
    (r"img_embedding\.", "bert.img_embedding."),
    (r"position_embeddings\.", "bert.position_embeddings."),
    (r"layers\.(\d+)\.query\.", r"bert.encoder.layer.\1.attention.self.query."),
    (r"layers\.(\d+)\.key\.", r"bert.encoder.layer.\1.attention.self.key."),
    (r"layers\.(\d+)\.value\.", r"bert.encoder.layer.\1.attention.self.value."),
    (r"layers\.(\d+)\.attn_out\.", r"bert.encoder.layer.\1.attention.output.dense."),
    (r"layers\.(\d+)\.attn_norm\.", r"bert.encoder.layer.\1.attention.output.LayerNorm."),
    (r"layers\.(\d+)\.ffn_in\.", r"bert.encoder.layer.\1.intermediate.dense."),
    (r"layers\.(\d+)\.ffn_out\.", r"bert.encoder.layer.\1.output.dense."),
    (r"layers\.(\d+)\.ffn_norm\.", r"bert.encoder.layer.\1.output.LayerNorm."),
    (r"(cls_head|residual)\.", r"\1."),
]
_CROSS = {"in_proj_weight": "multihead_attn.in_proj_weight", "in_proj_bias": "multihead_attn.in_proj_bias"}


def official_key(name: str, config: ModelConfig | None = None) -> str:
    """The authors' state-dict key (with ``module.``) of our parameter/buffer ``name``.

    Explicit mapping, e.g. ``backbone_d.trunk.conv1.weight`` → ``module.backbone_d.backbone.conv1.weight``,
    ``backbone_d.up4.0.conv1.weight`` → ``….up4.0.conv1.conv.weight``,
    ``stages.0.depth_kfam.fa.fusion.0.weight`` → ``module.block1.FA.fusion.0.weight``,
    ``stages.0.intra_tr.layers.2.ffn_in.weight`` → ``module.block1.init_TR.bert.encoder.layer.2.intermediate.dense.weight``,
    ``stages.0.cross_tr.layers.0.in_proj_weight`` → ``module.block1.crossTR.decoder.3.multihead_attn.in_proj_weight``.
    """
    cfg = config or ModelConfig()
    m = re.fullmatch(r"(backbone_d|backbone_rgb)\.(.+)", name)
    if m:
        bb, rest = m.groups()
        if rest.startswith("trunk."):
            return f"module.{bb}.backbone.{rest[len('trunk.'):]}"
        if rest.startswith("finals."):
            return f"module.{bb}.{rest}"
        rest = re.sub(r"\.(conv1|conv2|conv3|skip_layer)\.(weight|bias)$", r".\1.conv.\2", rest)
        return f"module.{bb}.{rest}"
    m = re.fullmatch(r"stages\.(\d+)\.(depth_kfam|rgb_kfam|intra_tr|final_tr|cross_tr)\.(.+)", name)
    if not m:
        raise KeyError(f"no authors' key for our parameter {name!r}")
    i, part, rest = int(m.group(1)), m.group(2), m.group(3)
    block = f"module.block{i + 1}."
    if part == "depth_kfam":
        return block + (("FA." + rest[3:]) if rest.startswith("fa.") else rest)
    if part == "rgb_kfam":
        return block + rest
    if part in ("intra_tr", "final_tr"):
        for pat, rep in _BERT:
            new, n = re.subn("^" + pat, rep, rest)
            if n:
                return block + ("init_TR." if part == "intra_tr" else "final_TR.") + new
        raise KeyError(f"no authors' key for our parameter {name!r}")
    m2 = re.fullmatch(r"layers\.(\d+)\.(.+)", rest)
    layer = cfg.cross_layers - 1 if cfg.cross_same_input else int(m2.group(1))
    sub = m2.group(2)
    sub = _CROSS.get(sub, "multihead_attn." + sub if sub.startswith("out_proj.") else sub)
    return f"{block}crossTR.decoder.{layer}.{sub}"


def _source_state_dict(src) -> dict:
    if isinstance(src, (str, os.PathLike)):
        path = os.fspath(src)
        if not os.path.isfile(path):
            raise CheckpointError(f"authors' checkpoint not found: {path}")
        try:
            src = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as e:  # noqa: BLE001
            raise CheckpointError(f"{path} is not a torch checkpoint ({type(e).__name__}: {e})") from e
    if not isinstance(src, dict):
        raise AuthorsCheckpointError(f"authors' checkpoint must be a dict, got {type(src).__name__}")
    sd = src.get("model", src)
    if not isinstance(sd, dict) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise AuthorsCheckpointError("authors' checkpoint: 'model' is not a state dict of tensors")
    return {(k if k.startswith("module.") else "module." + k): v for k, v in sd.items()}


def import_authors_checkpoint(src, config: ModelConfig | None = None):
    """Map the authors' ``{'model': {'module.…': …}}`` onto our ``official`` model.

    ``num_stages`` is taken from the number of ``block<i>`` prefixes unless ``config`` is given.
    Returns ``(model (eval mode), report)`` with report keys ``loaded`` (number of tensors),
    ``unused`` (sorted authors' keys not used), ``kept_init`` (our never-used parameters absent
    from the source), ``config``. Raises :class:`AuthorsCheckpointError` naming every missing
    or mis-shaped key that the computation uses.
    """
    sd = _source_state_dict(src)
    if config is None:
        blocks = {int(m.group(1)) for k in sd if (m := re.match(r"module\.block(\d+)\.", k))}
        n = max(blocks) if blocks else 0
        if not 1 <= n <= 3:
            raise AuthorsCheckpointError(f"authors' checkpoint has {n} blocks (module.block<i>.*); expected 1-3")
        config = preset("official", num_stages=n)
    model = build_model(config)
    unused_ours = set(model.unused_parameter_names())
    new_sd, missing, shapes, used, kept = {}, [], [], set(), []
    for name, ref in model.state_dict().items():
        key = official_key(name, config)
        if key not in sd:
            if name in unused_ours:
                kept.append(name)
                new_sd[name] = ref
                continue
            missing.append(key)
            continue
        v = sd[key]
        if tuple(v.shape) != tuple(ref.shape):
            shapes.append(f"{key}: {tuple(v.shape)}, expected {tuple(ref.shape)} (for {name})")
            continue
        new_sd[name] = v.to(ref.dtype)
        used.add(key)
    if missing or shapes:
        msg = []
        if missing:
            msg.append(f"{len(missing)} missing key(s): " + ", ".join(missing[:20]) + (" …" if len(missing) > 20 else ""))
        if shapes:
            msg.append(f"{len(shapes)} mis-shaped key(s): " + "; ".join(shapes[:20]) + (" …" if len(shapes) > 20 else ""))
        raise AuthorsCheckpointError("authors' checkpoint does not fit the official model: " + " | ".join(msg))
    model.load_state_dict(new_sd)
    model.eval()
    unused = sorted(set(sd) - used)
    log.info("imported %d tensors; ignored %d unused authors' keys", len(used), len(unused))
    report = {"loaded": len(used), "unused": unused, "kept_init": kept, "config": config}
    return model, report


def official_key_map(config: ModelConfig | None = None) -> dict[str, str]:
    """Our state-dict name → the authors' key, for every entry of the official model."""
    cfg = config or preset("official")
    return {n: official_key(n, cfg) for n in build_model(cfg).state_dict()}
