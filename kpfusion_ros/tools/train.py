"""kpfusion-train: train Keypoint-Fusion (or a baseline) on synthetic RGB-D frames.

Examples::

    kpfusion-train --preset lite --steps 3000 --device cuda --out runs/lite
    kpfusion-train --preset official --set num_stages=3 --steps 2000 --time-budget 400 --device cuda \
        --out runs/kpf3 --eval-frames 300 --export runs/kpf3/model.pt

(also ``python -m kpfusion_ros.tools.train``). Resumes from ``OUT/last.pt`` unless ``--no-resume``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time


def parse_overrides(items) -> dict:
    out = {}
    for it in items or []:
        k, _, v = it.partition("=")
        try:
            out[k] = json.loads(v)
        except json.JSONDecodeError:
            out[k] = v
    return out


from ..preprocessing.labels import SEEN_DZ_MM  # noqa: E402
from ..training.data import DataConfig  # noqa: E402
from .dataset_args import add_dataset_arguments, open_dataset  # noqa: E402


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kpfusion-train", description=__doc__.split("\n")[0])
    p.add_argument("--preset", default="lite", help="model preset (official, official_1stage, official_3stage, "
                   "fixed, lite, depth_only, rgb_only, dense_fusion)")
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                   help="ModelConfig overrides, JSON values (e.g. use_gam=false trunk_widths=[8,8,16,16])")
    p.add_argument("--steps", type=int, default=3000, help="schedule length in steps (lr x0.1 at 11/15)")
    p.add_argument("--lr-decay-at", type=float, default=None,
                   help="with --time-budget: lr x0.1 once this fraction of the budget has elapsed (default 11/15)")
    p.add_argument("--time-budget", type=float, default=0.0, help="stop after this many seconds (0 = none)")
    p.add_argument("--frames-per-step", type=int, default=24, help="frames rendered per step (~1.3 hands each)")
    p.add_argument("--pool", type=int, default=0, help="frames kept on the device (0 = render every frame fresh)")
    p.add_argument("--refresh", type=int, default=4, help="new frames rendered per step with --pool")
    p.add_argument("--width", type=int, default=640)
    p.add_argument("--height", type=int, default=480)
    p.add_argument("--seed", type=int, default=0, help="synthetic training stream seed")
    p.add_argument("--init-seed", type=int, default=0, help="torch seed (weights, dropout)")
    p.add_argument("--init-weights", default="",
                   help="fine-tune: start from this exported checkpoint (its model config must be the preset's); "
                        "a run directory's last.pt still resumes first")
    p.add_argument("--lr", type=float, default=8e-4)
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument("--no-augment", action="store_true")
    p.add_argument("--workers", type=int, default=DataConfig.workers,
                   help="background crop-rendering processes (0 = render in the training process)")
    p.add_argument("--com-shift-mm", type=float, default=DataConfig.com_shift_mm,
                   help="'com' augmentation range: crop centre moved U(-x, x) mm per axis (reference 10)")
    p.add_argument("--rgb-drop", type=float, default=DataConfig.rgb_drop,
                   help="fraction of training crops whose colour is blanked (depth must carry the pose)")
    p.add_argument("--hidden-weight", type=float, default=DataConfig.hidden_weight,
                   help="rendered crops: draw a hand with at most --hidden-max-seen seen joints this many times as often "
                        "as another (1 = uniform)")
    p.add_argument("--hidden-max-seen", type=int, default=DataConfig.hidden_max_seen,
                   help=f"seen joints (the surface at most {SEEN_DZ_MM:g} mm in front) up to which a hand counts as hidden")
    p.add_argument("--min-sensed", type=float, default=DataConfig.min_sensed,
                   help="rendered crops: never draw a hand whose visible pixels got a sensor depth at a share below "
                        "this (0 = every hand; e.g. 0.2 leaves out hands nearer than the sensor's range)")
    p.add_argument("--front-object", type=float, default=DataConfig.front_object,
                   help="synthetic data: per hand, the probability of a hand-held object (bottle, can, cup, mug, box, "
                        "fruit) just in front of it, hiding part of it (0 = none, the stream of before)")
    p.add_argument("--threads", type=int, default=0, help="torch threads for the optimiser process (0 = torch's default)")
    p.add_argument("--channels-last", action="store_true", help="channels-last memory format for the image branches")
    p.add_argument("--precision", default="fp32", choices=("fp32", "bf16"), help="forward-pass autocast")
    p.add_argument("--device", default="cpu", help="cpu | cuda | cuda:N")
    p.add_argument("--out", required=True, help="run directory (last.pt, metrics.csv, loss.png, …)")
    p.add_argument("--no-resume", action="store_true")
    p.add_argument("--log-every", type=int, default=10)
    p.add_argument("--ckpt-every", type=int, default=200)
    p.add_argument("--tensorboard", action="store_true")
    p.add_argument("--eval-frames", type=int, default=0, help="evaluate on this many held-out frames after training")
    p.add_argument("--eval-seed", type=int, default=None, help="evaluation stream seed (default: EVAL_SEED)")
    p.add_argument("--protocols", default="gt_crops", help="comma list: gt_crops,localizer")
    p.add_argument("--export", default="", help="also write a deployable checkpoint here (save_checkpoint)")
    p.add_argument("--half", action="store_true", help="store the exported weights as fp16")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_dataset_arguments(p, default_split="train")
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    import torch

    from ..runtime import keep_freed_buffers
    from ..training import TrainConfig, Trainer

    memory_note = keep_freed_buffers()  # every step's activations reuse freed heap instead of page-faulting again
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    cfg = TrainConfig(
        preset=args.preset, overrides=parse_overrides(args.set),
        data=DataConfig(seed=args.seed, width=args.width, height=args.height,
                        frames_per_step=args.frames_per_step, pool=args.pool, refresh=args.refresh,
                        augment=not args.no_augment, workers=args.workers, rgb_drop=args.rgb_drop,
                        com_shift_mm=args.com_shift_mm, hidden_weight=args.hidden_weight,
                        hidden_max_seen=args.hidden_max_seen, min_sensed=args.min_sensed,
                        front_object=args.front_object),
        steps=args.steps, lr=args.lr, weight_decay=args.weight_decay, time_budget_s=args.time_budget,
        **({} if args.lr_decay_at is None else {"lr_decay_at": args.lr_decay_at}),
        device=args.device, precision=args.precision, channels_last=args.channels_last, init_seed=args.init_seed,
        init_weights=args.init_weights, log_every=args.log_every, ckpt_every=args.ckpt_every,
        tensorboard=args.tensorboard)
    t0 = time.time()
    dataset = open_dataset(args)
    tr = Trainer(cfg, args.out, progress=not args.quiet, dataset=dataset)
    model = tr.fit(resume=not args.no_resume)
    summary = {"steps_done": tr.step, "steps_planned": cfg.steps, "train_seconds": round(tr.elapsed, 1),
               "command": "kpfusion-train " + " ".join(sys.argv[1:] if argv is None else argv),
               "train_config": cfg.to_dict(), "model_config": tr.model_cfg.to_dict(), "malloc": memory_note}
    if args.export:
        from ..checkpoint import save_checkpoint
        save_checkpoint(args.export, model, tr.model_cfg, {
            "source": f"kpfusion-train ({'synthetic data' if dataset is None else args.dataset + ' ' + args.split})", "command": summary["command"],
            "data_seed": args.seed, "pool": args.pool, "refresh": args.refresh, "steps": tr.step, "frames_per_step": args.frames_per_step,
            "image_size": [args.width, args.height]}, half=args.half)
        summary["export"] = args.export
        summary["export_bytes"] = os.path.getsize(args.export)
    if args.eval_frames > 0:
        from ..evaluation.evaluate import EVAL_SEED, EvalConfig, evaluate_model, markdown_table
        ecfg = EvalConfig(seed=EVAL_SEED if args.eval_seed is None else args.eval_seed, num_frames=args.eval_frames,
                          width=args.width, height=args.height, device=args.device)
        if ecfg.seed == args.seed:
            raise SystemExit("evaluation seed must differ from the training seed")
        model.eval()
        res = evaluate_model(model, tr.model_cfg, ecfg, tuple(args.protocols.split(",")), progress=not args.quiet)
        summary["eval"] = res
        with open(os.path.join(args.out, "eval.md"), "w") as f:
            f.write(markdown_table(res, args.preset) + "\n")
    summary["wall_seconds"] = round(time.time() - t0, 1)
    with open(os.path.join(args.out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    final = summary.get("eval", {}).get("gt_crops", {}).get("final", {})
    print(json.dumps({"out": args.out, "steps": tr.step, "final_gt_crops": final}))
    del torch
    return 0


if __name__ == "__main__":
    sys.exit(main())
