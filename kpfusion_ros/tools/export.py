"""kpfusion-export: a training run's last checkpoint → deployable weights with their sidecar.

    kpfusion-export RUN_DIR models/kpfusion_lite.pt [--half] [--note TEXT] [--extra results.json ...]

Reads ``RUN_DIR/last.pt`` (the trainer's resumable state: model, optimiser, step, elapsed
seconds, both configs), writes the model alone with :func:`~kpfusion_ros.checkpoint.save_checkpoint`
(fp16 with ``--half``) and, beside it, ``<name>.json``: the model and training configs, the run's
command (``RUN_DIR/cmd.sh`` when present), seeds, steps, hands seen, training hours, file size,
and the metrics of every ``--extra`` JSON (merged under ``"metrics"`` by file stem).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path


def run_provenance(run_dir: Path, state: dict) -> dict:
    """What the sidecar says about the run that made the weights."""
    tc = state["train_config"]
    data = tc.get("data", {})
    prov = {"source": "kpfusion-train (synthetic data)", "run_dir": str(run_dir), "steps": int(state["step"]),
            "train_seconds": round(float(state["elapsed"]), 1),
            "train_hours": round(float(state["elapsed"]) / 3600.0, 3),
            "hands_per_step": int(data.get("frames_per_step", 0)),
            "hands_seen": int(state["step"]) * int(data.get("frames_per_step", 0)),
            "data_seed": data.get("seed"), "init_seed": tc.get("init_seed"),
            "lr_decayed": bool(state.get("decayed_by_time", False))}
    cmd = run_dir / "cmd.sh"
    if cmd.is_file():
        prov["command"] = cmd.read_text()
    return prov


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="kpfusion-export", description=__doc__.split("\n")[0])
    ap.add_argument("run_dir", help="a kpfusion-train --out directory (with last.pt)")
    ap.add_argument("out", help="weights to write (.pt); the sidecar goes beside it as .json")
    ap.add_argument("--half", action="store_true", help="store the weights as fp16")
    ap.add_argument("--note", default="", help="free text for the sidecar")
    ap.add_argument("--extra", nargs="*", default=[], help="JSON files of metrics to copy into the sidecar")
    args = ap.parse_args(argv)

    import torch

    from ..checkpoint import save_checkpoint
    from ..model import build_model
    from ..model.config import ModelConfig

    run = Path(args.run_dir).expanduser()
    ckpt = run / "last.pt"
    if not ckpt.is_file():
        ap.error(f"{ckpt} not found (is {run} a kpfusion-train --out directory?)")
    state = torch.load(str(ckpt), map_location="cpu", weights_only=False)
    cfg = ModelConfig.from_dict(state["model_config"])
    model = build_model(cfg)
    model.load_state_dict(state["model"])
    prov = run_provenance(run, state)
    save_checkpoint(args.out, model, cfg, prov, half=args.half)
    side = {"model_config": cfg.to_dict(), "train_config": state["train_config"], **prov,
            "weights_dtype": "float16" if args.half else "float32", "file_bytes": os.path.getsize(args.out)}
    if args.note:
        side["note"] = args.note
    metrics = {}
    for p in args.extra:
        with open(p) as f:
            metrics[Path(p).stem] = json.load(f)
    if metrics:
        side["metrics"] = metrics
    side_path = Path(args.out).with_suffix(".json")
    with open(side_path, "w") as f:
        json.dump(side, f, indent=1)
    print(f"wrote {args.out} ({side['file_bytes'] / 1e6:.1f} MB, step {prov['steps']}, "
          f"{prov['train_hours']:.2f} h, {prov['hands_seen']} hands) and {side_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
