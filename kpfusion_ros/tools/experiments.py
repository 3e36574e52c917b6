"""kpfusion-experiments: the paper-claims study on synthetic data, one command.

Trains every configuration with the same step budget (and a wall-clock safety cap), all
concurrently on one device (one process each), evaluates each on the same held-out split
(GT-centred crops, paper protocol), then writes ``OUT/results.json``, ``OUT/results.md`` and
``OUT/mpjpe.png``. Example (what scripts/gpu_experiments.sh runs)::

    kpfusion-experiments --out runs/exp --device cuda --steps 1500 --time-budget 400 \
        --eval-frames 300 --configs all

Configurations (paper Tables 3-5): depth_only, rgb_only, dense_fusion, kpf_1stage,
kpf_2stage (official), kpf_3stage, and Table-5 ablations of the 2-stage model: no_hwm,
no_gam, no_pcl, no_rgbproj, no_refine; plus ``lite`` (the shipped model).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

CONFIGS = {
    "depth_only": ("depth_only", []),
    "rgb_only": ("rgb_only", []),
    "dense_fusion": ("dense_fusion", []),
    "kpf_1stage": ("official_1stage", []),
    "kpf_2stage": ("official", []),
    "kpf_3stage": ("official_3stage", []),
    "no_hwm": ("official", ["use_hwm=false"]),
    "no_gam": ("official", ["use_gam=false"]),
    "no_pcl": ("official", ["use_pcl=false"]),
    "no_rgbproj": ("official", ["use_rgb_proj=false"]),
    "no_refine": ("official", ["use_refine=false"]),  # not in 'all' (GPU budget)
    "lite": ("lite", []),
}
PAPER_SET = ["depth_only", "rgb_only", "dense_fusion", "kpf_1stage", "kpf_2stage", "kpf_3stage"]
ABLATIONS = ["no_hwm", "no_gam", "no_pcl", "no_rgbproj"]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kpfusion-experiments", description=__doc__.split("\n")[0])
    p.add_argument("--out", required=True)
    p.add_argument("--configs", default="all", help="comma list of names, or 'all' / 'paper' / 'paper+ablations'")
    p.add_argument("--device", default="cpu")
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--time-budget", type=float, default=0.0, help="per-run wall-clock cap on training (s)")
    p.add_argument("--frames-per-step", type=int, default=24)
    p.add_argument("--pool", type=int, default=0)
    p.add_argument("--refresh", type=int, default=4)
    p.add_argument("--width", type=int, default=640)
    p.add_argument("--height", type=int, default=480)
    p.add_argument("--seed", type=int, default=0, help="training stream seed (same for every config)")
    p.add_argument("--eval-frames", type=int, default=300)
    p.add_argument("--lite-protocols", default="gt_crops,localizer")
    p.add_argument("--set-all", nargs="*", default=[], help="ModelConfig overrides for every config (tests)")
    p.add_argument("--parallel", type=int, default=0, help="processes at once (0 = all)")
    p.add_argument("--no-train", action="store_true", help="only collect existing results")
    return p


def _cmd(name: str, args) -> list[str]:
    preset, sets = CONFIGS[name]
    run = os.path.join(args.out, name)
    cmd = [sys.executable, "-m", "kpfusion_ros.tools.train", "--preset", preset, "--steps", str(args.steps),
           "--time-budget", str(args.time_budget), "--frames-per-step", str(args.frames_per_step),
           "--pool", str(args.pool), "--refresh", str(args.refresh),
           "--width", str(args.width), "--height", str(args.height), "--seed", str(args.seed),
           "--device", args.device, "--out", run, "--eval-frames", str(args.eval_frames), "--quiet",
           "--log-every", "20", "--ckpt-every", "250"]
    sets = list(sets) + list(args.set_all)
    if sets:
        cmd += ["--set", *sets]
    if name == "lite":
        cmd += ["--protocols", args.lite_protocols, "--export", os.path.join(run, "kpfusion_lite.pt"), "--half"]
    return cmd


def collect(out: str, names: list[str]) -> dict:
    res = {}
    for n in names:
        p = os.path.join(out, n, "summary.json")
        if os.path.isfile(p):
            with open(p) as f:
                s = json.load(f)
            e = s.get("eval", {})
            res[n] = {"preset": CONFIGS.get(n, (n,))[0], "steps": s["steps_done"], "steps_planned": s["steps_planned"],
                      "train_seconds": s["train_seconds"],
                      "gt_crops": {k: v for k, v in e.get("gt_crops", {}).items() if k in ("final", "final_pose")},
                      "gt_crops_poses": {k: {m: v[m] for m in ("mpjpe_mm", "pa_mpjpe_mm", "auc_0_50")}
                                         for k, v in e.get("gt_crops", {}).get("poses", {}).items()}}
            if "localizer" in e:
                L = e["localizer"]
                res[n]["localizer"] = {k: L[k] for k in ("final", "gt_hands", "matched", "missed", "false_positives",
                                                         "centre_error_mm") if k in L}
        else:
            res[n] = {"missing": True}
    return res


def table(res: dict) -> str:
    lines = ["| config | steps | train s | MPJPE initial (mm) | MPJPE per stage (mm) | final MPJPE (mm) | "
             "final PA-MPJPE (mm) | AUC 0-50 |", "|---|---:|---:|---:|---|---:|---:|---:|"]
    for n, r in res.items():
        if r.get("missing"):
            lines.append(f"| {n} | – | – | – | missing | – | – | – |")
            continue
        poses = r["gt_crops_poses"]
        f = r["gt_crops"].get("final", {})
        stages = ", ".join(f"{k} {v['mpjpe_mm']:.2f}" for k, v in poses.items() if k != "initial")
        ini = poses.get("initial", {}).get("mpjpe_mm", float("nan"))
        lines.append(f"| {n} | {r['steps']} | {r['train_seconds']:.0f} | {ini:.2f} | {stages or '–'} | "
                     f"{f.get('mpjpe_mm', float('nan')):.2f} | {f.get('pa_mpjpe_mm', float('nan')):.2f} | "
                     f"{f.get('auc_0_50', float('nan')):.3f} |")
    return "\n".join(lines)


def plot(res: dict, path: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    names = [n for n, r in res.items() if not r.get("missing")]
    vals = [res[n]["gt_crops"]["final"]["mpjpe_mm"] for n in names]
    fig, ax = plt.subplots(figsize=(max(6, 0.7 * len(names)), 3.5))
    ax.bar(names, vals, color=["tab:gray" if n in ("depth_only", "rgb_only", "dense_fusion") else "tab:blue"
                               for n in names])
    ax.set_ylabel("final MPJPE (mm), GT crops")
    ax.tick_params(axis="x", rotation=45)
    for i, v in enumerate(vals):
        ax.text(i, v, f"{v:.1f}", ha="center", va="bottom", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.configs == "all":
        names = [n for n in CONFIGS if n != "no_refine"]
    elif args.configs == "paper":
        names = PAPER_SET
    elif args.configs == "paper+ablations":
        names = PAPER_SET + ABLATIONS
    else:
        names = [n for n in args.configs.split(",") if n]
    unknown = [n for n in names if n not in CONFIGS]
    if unknown:
        raise SystemExit(f"unknown configs {unknown}; known: {list(CONFIGS)}")
    os.makedirs(args.out, exist_ok=True)
    t0 = time.time()
    if not args.no_train:
        try:
            from tqdm import tqdm
        except ImportError:  # progress is optional
            def tqdm(*a, **k):
                class _B:
                    def update(self, n=1): pass
                    def set_postfix(self, **kw): print("finished", kw, flush=True)
                    def close(self): pass
                return _B()
        par = args.parallel or len(names)
        pending, running, done = list(names), {}, []
        bar = tqdm(total=len(names), desc="experiments", unit="run")
        while pending or running:
            while pending and len(running) < par:
                n = pending.pop(0)
                os.makedirs(os.path.join(args.out, n), exist_ok=True)
                log = open(os.path.join(args.out, n, "log.txt"), "w")
                running[n] = (subprocess.Popen(_cmd(n, args), stdout=log, stderr=subprocess.STDOUT), log)
            for n, (p, log) in list(running.items()):
                if p.poll() is not None:
                    log.close()
                    done.append((n, p.returncode))
                    del running[n]
                    bar.update(1)
                    bar.set_postfix(last=f"{n}:{p.returncode}")
            time.sleep(1.0)
        bar.close()
    res = collect(args.out, names)
    meta = {"command": "kpfusion-experiments " + " ".join(sys.argv[1:] if argv is None else argv),
            "steps": args.steps, "time_budget_s": args.time_budget, "frames_per_step": args.frames_per_step, "pool": args.pool, "refresh": args.refresh,
            "train_seed": args.seed, "eval_frames": args.eval_frames, "image": [args.width, args.height],
            "wall_seconds": round(time.time() - t0, 1), "results": res}
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(meta, f, indent=1)
    md = table(res)
    with open(os.path.join(args.out, "results.md"), "w") as f:
        f.write(md + "\n")
    try:
        plot(res, os.path.join(args.out, "mpjpe.png"))
    except Exception as e:  # noqa: BLE001
        print("plot failed:", e)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
