"""Per published hand: its true side, how it was cropped, what side was published and its pose error.

    python -P diag.py log SEEDS OUT.json [--param name=value ...]   # the node's pipeline on rendered sequences
    python -P diag.py report A.json [B.json ...]                    # error by (true side, cropped as, published)

A published hand is matched to the nearest labelled hand within 80 mm of its joint mean (as the node protocol
of kpfusion-eval-real does, but per hand and greedily); its MPJPE is against that hand's joints."""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from dataclasses import replace

import numpy as np


def log(seeds, out, params, frames=150, width=320, height=240):
    from tqdm import tqdm

    from kpfusion_ros.data.synthetic import SyntheticConfig, SyntheticSequences
    from kpfusion_ros.hand import HANDEDNESS_LEFT, HANDEDNESS_RIGHT
    from kpfusion_ros.joints import reorder
    from kpfusion_ros.node_config import NodeConfig, pipeline_config
    from kpfusion_ros.pipeline import HandPosePipeline
    from kpfusion_ros.tools.bag import parse_params
    from kpfusion_ros.tracking import joint_mean

    cfg = replace(NodeConfig(), **parse_params(params), device="cpu")
    pipe = HandPosePipeline(pipeline_config(cfg))
    reader = SyntheticSequences(seeds, num_frames=frames, config=SyntheticConfig(width=width, height=height))
    names = {HANDEDNESS_LEFT: "left", HANDEDNESS_RIGHT: "right"}
    rows = []
    for seq, idx in reader.sequence_indices().items():
        pipe.reset()
        for f, i in enumerate(tqdm(idx, desc=seq, leave=False)):
            fr = reader[i]
            res = pipe.process(fr.color, np.asarray(fr.depth, np.float32), fr.cam, stamp=float(fr.stamp))
            gts = [reorder(np.asarray(j, np.float64), "network", "public") for j in fr.joints_mm]
            gt_c = np.array([joint_mean(j) for j in fr.joints_mm]).reshape(-1, 3)
            for h in res.hands:
                pred = h.joints_m * 1000.0
                d = np.linalg.norm(gt_c - np.nanmean(pred, 0), axis=1) if len(gt_c) else np.zeros(0)
                if not d.size or d.min() > 80.0:
                    continue
                k = int(d.argmin())
                tr = pipe.tracker.get(h.track_id)
                rows.append({"seq": seq, "frame": f, "id": h.track_id, "true": fr.handedness[k],
                             "mirrored": bool(h.mirrored), "published": names.get(int(h.handedness), "unknown"),
                             "p_right": None if tr is None else tr.p_right,
                             "side_tests": None if tr is None else tr.side_tests,
                             "mpjpe": float(np.nanmean(np.linalg.norm(pred - gts[k], axis=1)))})
    with open(out, "w") as fh:
        json.dump({"seeds": seeds, "frames": frames, "params": params, "rows": rows}, fh)


def report(paths):
    for p in paths:
        rows = json.load(open(p))["rows"]
        print(f"{p}: {len(rows)} hands, MPJPE {np.mean([r['mpjpe'] for r in rows]):.2f} mm")
        g = defaultdict(list)
        for r in rows:
            g[(r["true"], "mirrored" if r["mirrored"] else "as is", r["published"])].append(r["mpjpe"])
        for k in sorted(g):
            print(f"  true {k[0]:5s} cropped {k[1]:8s} published {k[2]:7s}: {len(g[k]):4d} hands, {np.mean(g[k]):5.1f} mm")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("log")
    a.add_argument("seeds")
    a.add_argument("out")
    a.add_argument("--param", action="append", default=[])
    a.add_argument("--frames", type=int, default=150)
    b = sub.add_parser("report")
    b.add_argument("paths", nargs="+")
    args = ap.parse_args(argv)
    if args.cmd == "log":
        log([int(s) for s in args.seeds.split(",")], args.out, args.param, args.frames)
    else:
        report(args.paths)


if __name__ == "__main__":
    main()
