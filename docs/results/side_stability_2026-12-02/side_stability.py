"""Does the pose network's stability tell a hand's side? The study behind kpfusion_ros.side_test.

``log``: every labelled hand of rendered frames (``render_batch`` stream SEED, 320×240), cropped at its GT joint
mean as it is and mirrored, with the perturbations of a SideTestConfig; per hand and side: the error of the
unmoved crop's pose and the spread of the poses (kpfusion_ros.side_test.spreads).
``choose``: the rule of README.md on the selection logs; ``report`` the chosen settings on another log.

    python docs/results/side_stability_2026-12-02/side_stability.py log --seed 401 --frames 150 --shift 12 --scale 0.15 OUT.json
    python docs/results/side_stability_2026-12-02/side_stability.py choose A.json B.json C.json D.json
    python docs/results/side_stability_2026-12-02/side_stability.py report --gain G REPORT.json
"""
from __future__ import annotations

import argparse
import json
import sys

import numpy as np


def log(args) -> None:
    import torch
    from tqdm import tqdm

    from kpfusion_ros.data.synthetic import SyntheticConfig
    from kpfusion_ros.data.synthetic.generator import render_batch
    from kpfusion_ros.pipeline import load_model
    from kpfusion_ros.preprocessing import CropConfig, crop_hands, predictions_to_camera
    from kpfusion_ros.side_test import SideTestConfig, side_test_crops, spreads

    torch.set_num_threads(args.threads)
    model, mcfg, _ = load_model(args.model, torch.device("cpu"))
    cc = CropConfig.for_model(mcfg)
    scfg = SideTestConfig(shift_mm=args.shift, scale=args.scale)
    syn = SyntheticConfig(width=320, height=240)
    rows = []

    def frames():
        """(frame id, rgb, depth mm, cam, [(hand, joints mm, is_right)]) of the stream, or of the sequences."""
        if args.sequences:
            from kpfusion_ros.data.synthetic import SyntheticSequences

            seq = SyntheticSequences([int(x) for x in args.sequences.split(",")], num_frames=args.frames, config=syn)
            for i in tqdm(range(0, len(seq), args.every), desc="frames", unit="frame"):
                f = seq[i]
                yield i, torch.from_numpy(f.color), torch.from_numpy(f.depth.astype(np.float32)), \
                    np.asarray(f.cam, np.float64), [(h, f.joints_mm[h].astype(np.float64), f.handedness[h] == "right")
                                                    for h in range(len(f.handedness)) if f.visible[h].sum() >= 5]
            return
        for s in tqdm(range(0, args.frames, 4), desc="frames", unit="batch"):
            fb = render_batch(args.seed, range(s, min(s + 4, args.frames)), syn)
            for b in range(fb.color.shape[0]):
                yield s + b, fb.color[b], fb.depth[b], fb.cam[b].double().numpy(), [
                    (int(h), fb.joints_mm[b, h].double().numpy(), bool(fb.is_right[b, h]))
                    for h in np.nonzero(fb.hand_valid[b].numpy())[0]]

    with torch.no_grad():
        for frame, color, depth, cam, hands in frames():
            for h, gt, is_right in hands:
                cent, cube, mirror = side_test_crops(gt.mean(0)[None], cc.cube_mm[0], scfg)
                g = torch.Generator().manual_seed(0)
                crops = crop_hands(color, depth, cent, cam, cc, generator=g,
                                   mirror=mirror, color_order="rgb", cube_mm=cube)
                if not bool(crops.valid.all()):
                    continue
                jm, _ = predictions_to_camera(model(*crops.network_inputs()).final.float(), crops)
                p = jm.double().numpy() * 1000.0
                P = len(p) // 2
                sp = spreads(p, 1, scfg)[0]
                # hand size per side: mean over the crops of the mean joint-to-joint-mean distance (mm)
                size = np.linalg.norm(p - p.mean(axis=1, keepdims=True), axis=-1).mean(axis=1).reshape(2, P).mean(axis=1)
                rows.append({"frame": int(frame), "hand": int(h), "is_right": bool(is_right),
                             "err_as_is": float(np.linalg.norm(p[0] - gt, axis=-1).mean()),
                             "err_mirrored": float(np.linalg.norm(p[P] - gt, axis=-1).mean()),
                             "spread_as_is": float(sp[0]), "spread_mirrored": float(sp[1]),
                             "size_as_is": float(size[0]), "size_mirrored": float(size[1])})
    json.dump({"seed": args.seed, "sequences": args.sequences, "frames": args.frames, "shift_mm": args.shift, "scale": args.scale,
               "model": args.model, "hands": rows}, open(args.out, "w"), indent=0)


def _arrays(d):
    R = np.array([r["is_right"] for r in d["hands"]])
    lr = np.log(np.array([r["spread_mirrored"] for r in d["hands"]]) / np.array([r["spread_as_is"] for r in d["hands"]]))
    return R, lr


def fit_gain(R, lr) -> tuple[float, float]:
    y = np.where(R, 1.0, -1.0)
    grid = np.arange(0.25, 20.001, 0.25)
    ll = [float(np.mean(np.logaddexp(0.0, -y * g * lr))) for g in grid]
    i = int(np.argmin(ll))
    return float(grid[i]), ll[i]


def summary(d, gain: float | None = None) -> dict:
    R, lr = _arrays(d)
    out = {"seed": d["seed"], "shift_mm": d["shift_mm"], "scale": d["scale"], "hands": int(len(R)),
           "right_hands": int(R.sum()), "accuracy": float(np.mean((lr > 0) == R)),
           "accuracy_right_hands": float(np.mean(lr[R] > 0)), "accuracy_left_hands": float(np.mean(lr[~R] < 0)),
           "error_right_way_mm_median": float(np.median([r["err_as_is"] if r["is_right"] else r["err_mirrored"] for r in d["hands"]])),
           "error_wrong_way_mm_median": float(np.median([r["err_mirrored"] if r["is_right"] else r["err_as_is"] for r in d["hands"]]))}
    if gain is not None:
        y = np.where(R, 1.0, -1.0)
        p = 1.0 / (1.0 + np.exp(-gain * lr))
        conf = np.maximum(p, 1.0 - p)
        out["gain"] = gain
        out["log_loss"] = float(np.mean(np.logaddexp(0.0, -y * gain * lr)))
        out["by_confidence"] = {f"{t:.2f}": {"share": float(np.mean(conf >= t)),
                                             "accuracy": float(np.mean(((lr > 0) == R)[conf >= t])) if (conf >= t).any() else None}
                                for t in (0.6, 0.65, 0.7, 0.75, 0.8)}
    return out


def choose(args) -> None:
    logs = [json.load(open(p)) for p in args.logs]
    rows = [summary(d) for d in logs]
    best = max(range(len(rows)), key=lambda i: rows[i]["accuracy"])
    R, lr = _arrays(logs[best])
    gain, ll = fit_gain(R, lr)
    res = {"variants": rows, "chosen": {"shift_mm": rows[best]["shift_mm"], "scale": rows[best]["scale"]},
           "chosen_summary": summary(logs[best], gain), "chance_log_loss": float(np.log(2.0))}
    print(json.dumps(res, indent=1))


def report(args) -> None:
    print(json.dumps(summary(json.load(open(args.log)), args.gain), indent=1))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("log")
    a.add_argument("out")
    a.add_argument("--seed", type=int, default=0)
    a.add_argument("--frames", type=int, default=150)
    a.add_argument("--shift", type=float, default=12.0)
    a.add_argument("--scale", type=float, default=0.15)
    a.add_argument("--threads", type=int, default=2)
    a.add_argument("--sequences", default="", help="rendered sequences (comma-separated seeds) instead of the stream")
    a.add_argument("--every", type=int, default=5, help="with --sequences: every n-th frame")
    a.add_argument("--model", default="models/kpfusion_lite.pt")
    c = sub.add_parser("choose")
    c.add_argument("logs", nargs="+")
    r = sub.add_parser("report")
    r.add_argument("log")
    r.add_argument("--gain", type=float, required=True)
    args = p.parse_args(argv)
    {"log": log, "choose": choose, "report": report}[args.cmd](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
