"""kpfusion-eval: MPJPE / PA-MPJPE / AUC of a checkpoint on a held-out synthetic split.

Example::

    kpfusion-eval --checkpoint models/kpfusion_lite.pt --frames 300 --device cuda \
        --json docs/results/lite_eval.json --md docs/results/lite_eval.md

Protocols: ``gt_crops`` (paper: GT joint-mean centred crops, left hands mirrored) and
``localizer`` (real use: HandLocalizer crops matched to GT hands; misses reported).
"""

from __future__ import annotations

import argparse
import json
import sys


from ..evaluation.matching import MATCH_MM  # noqa: E402
from .dataset_args import add_dataset_arguments, open_dataset  # noqa: E402


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kpfusion-eval", description=__doc__.split("\n")[0])
    p.add_argument("--checkpoint", required=True, help="our checkpoint (save_checkpoint) or a training run's last.pt")
    p.add_argument("--frames", type=int, default=300)
    p.add_argument("--seed", type=int, default=None, help="evaluation stream seed (default EVAL_SEED = 1000003)")
    p.add_argument("--width", type=int, default=640)
    p.add_argument("--height", type=int, default=480)
    p.add_argument("--batch-frames", type=int, default=16)
    p.add_argument("--protocols", default="gt_crops,localizer")
    p.add_argument("--match-mm", type=float, default=MATCH_MM,
                   help=f"max centre distance detection↔GT hand (mm, default {MATCH_MM:g})")
    p.add_argument("--refine-iterations", type=int, default=0,
                   help="localizer protocol: re-crop at the predicted joint mean and run again N times "
                        "(as the node's refine_iterations; 0 here = one pass)")
    p.add_argument("--front-object", type=float, default=0.0,
                   help="synthetic frames: per hand, the probability of a hand-held item in front of it, hiding it "
                        "(0 = the evaluation split; 1 = hands hidden by what they hold)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--json", default="", help="write the full results here")
    p.add_argument("--md", default="", help="write the Markdown table here")
    p.add_argument("--quiet", action="store_true")
    add_dataset_arguments(p, default_split="test")
    p.add_argument("--cube", type=float, default=250.0, help="crop cube edge in mm (HO-3D: 280)")
    return p


def load_any(path: str, device: str):
    """(model, config) from our checkpoint format or a Trainer's last.pt."""
    import torch

    from ..checkpoint import load_checkpoint
    from ..model import ModelConfig, build_model
    obj = torch.load(path, map_location=device, weights_only=False)
    if isinstance(obj, dict) and "model_config" in obj and "model" in obj:
        cfg = ModelConfig.from_dict(obj["model_config"])
        model = build_model(cfg)
        model.load_state_dict(obj["model"])
        return model.to(device).eval(), cfg
    model, cfg, _ = load_checkpoint(path, map_location=device)
    return model.float().to(device).eval(), cfg


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    from ..evaluation.evaluate import EVAL_SEED, EvalConfig, evaluate_model, markdown_table

    model, cfg = load_any(args.checkpoint, args.device)
    ecfg = EvalConfig(seed=EVAL_SEED if args.seed is None else args.seed, num_frames=args.frames, width=args.width,
                      height=args.height, batch_frames=args.batch_frames, device=args.device, match_mm=args.match_mm,
                      cube_mm=args.cube, dataset=open_dataset(args), refine_iterations=args.refine_iterations,
                      front_object=args.front_object)
    res = evaluate_model(model, cfg, ecfg, tuple(args.protocols.split(",")), progress=not args.quiet)
    res["checkpoint"] = args.checkpoint
    md = markdown_table(res, cfg.arch)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1)
    if args.md:
        with open(args.md, "w") as f:
            f.write(md + "\n")
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
