"""Track identity switches on rendered sequences, and the motion signals that could flag them.

    python jumps.py log SEEDS OUT.json [--param name=value ...]   # run the node's pipeline, log every track-frame
    python jumps.py report OUT.json [OUT2.json ...]               # switches vs. each signal's thresholds

A track-frame's *identity* is the side ('left'/'right') of the labelled hand whose joint mean is nearest to the
track's centre after the frame (within 80 mm), or None. A *switch* is a track-frame whose identity is a side other
than the track's last non-None identity. Signals, each in mm, for the frames where the track was matched to a
detection: ``det_step`` (this detection's centre − the track's previous matched detection centre), ``innovation``
(this detection's centre − the track's centre before the frame), ``pose_step`` (the track's centre after the frame −
before it).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace

import numpy as np


def log(seeds, out, params, frames=150, width=320, height=240):
    from kpfusion_ros.data.synthetic import SyntheticConfig, SyntheticSequences
    from kpfusion_ros.node_config import NodeConfig, pipeline_config
    from kpfusion_ros.pipeline import HandPosePipeline
    from kpfusion_ros.tools.bag import parse_params
    from kpfusion_ros.tracking import joint_mean
    from tqdm import tqdm

    cfg = replace(NodeConfig(), **parse_params(params), device="cpu")
    pipe = HandPosePipeline(pipeline_config(cfg))
    reader = SyntheticSequences(seeds, num_frames=frames, config=SyntheticConfig(width=width, height=height))
    rows = []
    seen = {}
    localize = pipe.localizer.localize

    def spy(depth, cam):
        seen["dets"] = localize(depth, cam)
        return seen["dets"]

    pipe.localizer.localize = spy
    for seq, idx in reader.sequence_indices().items():
        pipe.reset()
        last_det = {}
        for f, i in enumerate(tqdm(idx, desc=seq, leave=False)):
            fr = reader[i]
            before = {t.id: t.centre_mm.copy() for t in pipe.tracker.tracks}
            res = pipe.process(fr.color, np.asarray(fr.depth, np.float32), fr.cam, stamp=float(fr.stamp))
            gt_c = np.array([joint_mean(j) for j in fr.joints_mm]).reshape(-1, 3)
            published = {h.track_id: int(h.handedness) for h in res.hands}
            dets = np.array([d.centre_mm for d in seen["dets"]]).reshape(-1, 3)
            tracks = np.array([t.centre_mm for t in pipe.tracker.tracks]).reshape(-1, 3)
            for t in pipe.tracker.tracks:
                d = np.linalg.norm(gt_c - t.centre_mm, axis=1) if len(gt_c) else np.zeros(0)
                ident = fr.handedness[int(d.argmin())] if d.size and d.min() <= 80.0 else None
                row = {"seq": seq, "frame": f, "id": t.id, "identity": ident, "matched": bool(t.matched),
                       "confirmed": bool(t.confirmed), "published": published.get(t.id),
                       "p_right": t.p_right, "side_tests": t.side_tests, "centre": t.centre_mm.tolist(),
                       "gt": gt_c.tolist(), "gt_sides": list(fr.handedness), "dets": dets.tolist(),
                       "tracks": tracks.tolist()}
                if t.id in before:
                    row["pose_step"] = float(np.linalg.norm(t.centre_mm - before[t.id]))
                    if t.matched:
                        row["innovation"] = float(np.linalg.norm(t.detection_centre_mm - before[t.id]))
                if t.matched and t.id in last_det:
                    row["det_step"] = float(np.linalg.norm(t.detection_centre_mm - last_det[t.id]))
                if t.matched:
                    last_det[t.id] = t.detection_centre_mm.copy()
                rows.append(row)
    with open(out, "w") as fh:
        json.dump({"seeds": seeds, "frames": frames, "params": params, "rows": rows}, fh)


def switches(rows):
    """Mark each row with ``switch`` (bool) and ``known`` (the track's last non-None identity before it)."""
    last = {}
    for r in rows:
        key = (r["seq"], r["id"])
        prev = last.get(key)
        r["known"] = prev
        r["switch"] = r["identity"] is not None and prev is not None and r["identity"] != prev
        if r["identity"] is not None:
            last[key] = r["identity"]
    return rows


def report(paths):
    rows = []
    for p in paths:
        rows += json.load(open(p))["rows"]
    rows = switches(rows)
    sw = [r for r in rows if r["switch"]]
    print(f"{len(rows)} track-frames, {len(sw)} switches")
    for r in sw:
        print("  switch", r["seq"], r["frame"], r["id"], r["known"], "->", r["identity"],
              {k: round(r[k], 1) for k in ("det_step", "innovation", "pose_step") if k in r})
    for sig in ("det_step", "innovation", "pose_step"):
        vals = np.array([r[sig] for r in rows if sig in r and not r["switch"] and r["identity"] is not None])
        print(f"{sig}: same-hand frames {vals.size}, percentiles 50/90/99/99.9/max "
              + " ".join(f"{np.percentile(vals, q):.0f}" for q in (50, 90, 99, 99.9)) + f" {vals.max():.0f}")
        for thr in (40, 50, 60, 70, 80, 100):
            caught = sum(1 for r in sw if r.get(sig, -1) > thr)
            false = int((vals > thr).sum())
            print(f"  > {thr} mm: switches flagged {caught}/{len(sw)}, same-hand frames flagged {false}")


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
    sys.exit(main())
