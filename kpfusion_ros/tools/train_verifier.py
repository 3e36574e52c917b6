"""kpfusion-train-verifier: render synthetic frames and train the localiser's hand verifier.

The shipped ``models/hand_verifier.pt`` and its sidecar ``models/hand_verifier.json`` were made by
the command recorded in that sidecar, e.g.::

    kpfusion-train-verifier --seed 1000 --shards 250 --val-seed 1001 --val-shards 25 \\
        --out models/hand_verifier.pt

Frames (:mod:`kpfusion_ros.detection.training_data`) are rendered once into ``--data-dir`` (default
``~/.cache/kpfusion_ros/verifier``; missing shards are rendered first, existing ones reused), the
verifier is trained on the training seed (:mod:`kpfusion_ros.detection.training`) and the whole
localiser is measured on the validation seed; the sidecar holds the seeds, the command, the sizes,
the training history and those metrics. Synthetic data only.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import sys
import time
from dataclasses import replace
from pathlib import Path


def build_parser() -> argparse.ArgumentParser:
    from kpfusion_ros.detection.training_data import DEFAULT_DATA_DIR

    p = argparse.ArgumentParser(prog="kpfusion-train-verifier", description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="\n".join(__doc__.split("\n")[1:]))
    p.add_argument("--data-dir", default=str(DEFAULT_DATA_DIR), help="where rendered shards are kept")
    p.add_argument("--seed", type=int, default=1000, help="training stream seed")
    p.add_argument("--shards", type=int, default=250, help="training shards (16 frames each)")
    p.add_argument("--also", nargs="*", default=[], metavar="SEED:SHARDS",
                   help="more training frames: the first SHARDS shards of stream SEED (e.g. 2000:300), "
                        "added to --seed's")
    p.add_argument("--val-seed", type=int, default=1001, help="validation stream seed")
    p.add_argument("--val-shards", type=int, default=25, help="validation shards (0 = none)")
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--frames-per-step", type=int, default=12)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--train-seed", type=int, default=0, help="weights / sampling seed")
    p.add_argument("--threads", type=int, default=1, help="torch threads")
    p.add_argument("--context-scale", type=float, default=0.0,
                   help="> 0: also show the verifier a context patch this many times wider (e.g. 3: 900 mm)")
    p.add_argument("--blob-negatives", type=float, default=None,
                   help="smooth-blob negatives per batch, as a fraction of its patches (default: SampleConfig's; "
                        "0: none, as up to verifier v4)")
    p.add_argument("--blob-bank", type=int, default=None,
                   help="smooth blobs ray-cast once per run to draw them from (default: SampleConfig's)")
    p.add_argument("--near-negatives", type=int, default=None, metavar="N",
                   help="per GT hand, N surface points 150-500 mm from it (not on it) as samples: what a hand reaches "
                        "past (default: SampleConfig's, 0)")
    p.add_argument("--init-weights", default=None, metavar="VERIFIER.pt",
                   help="fine-tune: start from these verifier weights (same architecture) instead of from scratch")
    p.add_argument("--render-only", action="store_true",
                   help="render the missing shards and stop (e.g. one process per seed, before training)")
    p.add_argument("--time-budget-min", type=float, default=None,
                   help="stop training after this many minutes (the weights of the last step are kept)")
    p.add_argument("--checkpoint", default=None,
                   help="weights written after every epoch (default: <data-dir>/checkpoint.pt)")
    p.add_argument("--keep-epochs", action="store_true",
                   help="also keep every epoch's weights beside the checkpoint (<checkpoint>_epochN.pt), "
                        "for choosing one afterwards by a rule on synthetic frames")
    p.add_argument("--out", default="models/hand_verifier.pt", help="weights; the sidecar goes beside it (.json)")
    p.add_argument("--finalize", default=None, metavar="CHECKPOINT",
                   help="do not train: ship the weights of a --checkpoint file of an earlier run of this command "
                        "(measured on the validation seed, sidecar written as after training)")
    p.add_argument("--fp32", action="store_true", help="store fp32 weights (default fp16)")
    p.add_argument("--quiet", action="store_true")
    return p


def parse_also(items) -> list[tuple[int, int]]:
    """``["2000:300", …]`` → ``[(2000, 300), …]``; a clear error for anything else."""
    out = []
    for it in items or []:
        seed, sep, n = str(it).partition(":")
        try:
            if not sep:
                raise ValueError
            out.append((int(seed), int(n)))
        except ValueError:
            raise SystemExit(f"kpfusion-train-verifier: --also expects SEED:SHARDS (e.g. 2000:300), got {it!r}")
        if out[-1][1] < 1:
            raise SystemExit(f"kpfusion-train-verifier: --also {it!r}: SHARDS must be at least 1")
    return out


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    also = parse_also(args.also)
    # argument errors before any shard is rendered
    if args.near_negatives is not None and args.near_negatives < 0:
        raise SystemExit(f"kpfusion-train-verifier: --near-negatives must be >= 0, got {args.near_negatives}")
    if args.init_weights and not Path(args.init_weights).expanduser().is_file():
        raise SystemExit(f"kpfusion-train-verifier: --init-weights {args.init_weights}: no such file")
    import torch

    torch.set_num_threads(max(1, args.threads))
    from kpfusion_ros.detection.training import TrainConfig, evaluate_localizer, train
    from kpfusion_ros.detection.training_data import load_shards, write_shards
    from kpfusion_ros.detection.verifier import save_verifier
    from kpfusion_ros.localization import HandLocalizer, LocalizerConfig

    root = Path(args.data_dir).expanduser()
    t0 = time.time()
    paths = write_shards(root, args.seed, range(args.shards), progress=not args.quiet)
    for seed, n in also:
        paths += write_shards(root, seed, range(n), progress=not args.quiet)
    vpaths = write_shards(root, args.val_seed, range(args.val_shards), progress=not args.quiet) \
        if args.val_shards > 0 else []
    render_min = (time.time() - t0) / 60
    if args.render_only:
        print(f"kpfusion-train-verifier: {len(paths) + len(vpaths)} shards under {root} ({render_min:.1f} min)")
        return 0
    frames = load_shards(paths)
    val = load_shards(vpaths) if vpaths else None
    spec = TrainConfig().spec
    if args.context_scale > 0:
        spec = replace(spec, context_scale=args.context_scale, in_channels=2 * spec.in_channels)
    samples = TrainConfig().samples
    if args.blob_negatives is not None:
        samples = replace(samples, blob_negatives=args.blob_negatives)
    if args.blob_bank is not None:
        samples = replace(samples, blob_bank=args.blob_bank)
    if args.near_negatives is not None:
        samples = replace(samples, near_per_hand=args.near_negatives)
    cfg = replace(TrainConfig(), epochs=args.epochs, frames_per_step=args.frames_per_step, lr=args.lr,
                  seed=args.train_seed, time_budget_min=args.time_budget_min, spec=spec, samples=samples,
                  init_weights=str(Path(args.init_weights).expanduser()) if args.init_weights else None)
    lcfg = LocalizerConfig()
    ckpt = Path(args.checkpoint).expanduser() if args.checkpoint else root / "checkpoint.pt"

    def checkpoint(model, hist):
        ckpt.parent.mkdir(parents=True, exist_ok=True)
        save_verifier(model, ckpt, meta={"description": f"checkpoint after {hist['epochs'][-1]['steps_done']} steps",
                                         "command": "kpfusion-train-verifier " + " ".join(sys.argv[1:] if argv is None else argv)},
                      half=False)
        if args.keep_epochs:
            shutil.copyfile(ckpt, ckpt.with_name(f"{ckpt.stem}_epoch{len(hist['epochs'])}{ckpt.suffix}"))

    if args.finalize:
        from dataclasses import asdict

        from kpfusion_ros.detection.verifier import load_verifier

        model, ck = load_verifier(args.finalize)
        hist = {"finalized_from_checkpoint": ck.get("description", ""), "checkpoint_command": ck.get("command", ""),
                "config": asdict(cfg)}
    else:
        model, hist = train(frames, cfg, lcfg, val_frames=None, progress=not args.quiet,
                            log=(lambda *a: None) if args.quiet else (lambda s: print(s, file=sys.stderr)),
                            checkpoint=checkpoint)
    metrics = {}
    if val:
        loc = HandLocalizer(lcfg, verifier=model)
        metrics = evaluate_localizer(val, loc, thresholds=(0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9))
    hands = sum(len(f["centre_mm"]) for f in frames)
    meta = {
        "description": f"hand verifier, synthetic seed{'s' if also else ''} "
                       f"{', '.join(str(sd) for sd in [args.seed] + [a[0] for a in also])} ({len(frames)} frames)",
        "command": "kpfusion-train-verifier " + " ".join(sys.argv[1:] if argv is None else argv),
        "data": {"train_seed": args.seed, "train_shards": args.shards,
                 "also": [{"seed": sd, "shards": n} for sd, n in also], "train_frames": len(frames),
                 "train_hands": hands, "val_seed": args.val_seed, "val_shards": args.val_shards,
                 "val_frames": len(val) if val else 0, "renderer": "kpfusion_ros.data.synthetic (default scenes "
                 "and sensor; views free/ego/table; see kpfusion_ros.detection.training_data.shard_setting)"},
        "parameters": int(sum(p.numel() for p in model.parameters())),
        "fp16": not args.fp32,
        "train": {k: v for k, v in hist.items() if k != "config"}, "train_config": hist["config"],
        "render_minutes": render_min, "platform": platform.platform(), "torch": torch.__version__,
        "val_localizer": metrics,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    save_verifier(model, out, meta={"description": meta["description"], "command": meta["command"]},
                  half=not args.fp32)
    meta["size_bytes"] = out.stat().st_size
    with open(out.with_suffix(".json"), "w") as f:
        json.dump(meta, f, indent=1, default=str)
    print(json.dumps(metrics, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
