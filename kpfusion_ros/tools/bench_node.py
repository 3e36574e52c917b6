"""kpfusion-bench-node: where the node's time goes, its overhead beyond the model, and its throughput.

Modes (each prints one JSON object, with the machine's load average; run on an idle machine):

``profile``
    In-process, no DDS: ``FrameProcessor.process`` (the node's per-frame work) on
    rendered frames; per-stage wall times (conversion, localize, crop incl. point
    sampling, forward, decode, messages) median over ``--iters`` frames, per
    resolution, number of hands and model preset. "overhead" = everything but forward.
``e2e``
    Through the node over DDS (run via ``scripts/hermetic.sh``): frames at a low rate
    (no drops), image stamp → HandPoseArray arrival on the driver side, minus the
    node's own forward time (its /diagnostics stage timings), per resolution.
``throughput``
    Through the node at increasing input rates: published rate, latency percentiles
    (first vs last half: growing or not), sets dropped stale.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np


def _machine(load_before) -> dict:
    import torch

    return {"cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(), "platform": platform.platform(),
            "cuda": torch.cuda.is_available(), 
            # before the run (other work on the machine shows here); and after it (includes this run)
            "load_average_1_5_15_min_before": [round(x, 2) for x in load_before],
            "load_average_1_5_15_min_after": [round(x, 2) for x in os.getloadavg()]}


def profile(resolutions, hands_list, models, iters: int, warmup: int) -> dict:
    from cv_bridge import CvBridge

    from kpfusion_ros.pipeline import HandPosePipeline, PipelineConfig
    from kpfusion_ros.ros.processing import FrameProcessor
    from kpfusion_ros.runtime import keep_freed_buffers
    from kpfusion_ros.data.synthetic.presets import clean_frames
    from kpfusion_ros.ros.hand_frames import frame_messages

    keep_freed_buffers()  # as the node process does
    rows = []
    for model in models:
        for (w, h) in resolutions:
            for hands in hands_list:
                frames = clean_frames(hands, w, h)
                proc = FrameProcessor(HandPosePipeline(PipelineConfig(model_path=model, device="cpu")), CvBridge())
                stages: dict[str, list] = {}
                n_hands = []
                for k in range(warmup + iters):
                    c, d, i = frame_messages(frames[0], 1_700_000_000_000_000_000 + k * 33_000_000)
                    t0 = time.perf_counter()
                    out = proc.process(c, d, i)
                    wall = (time.perf_counter() - t0) * 1e3
                    if k >= warmup:
                        for s, v in out.result.timings_ms.items():
                            stages.setdefault(s, []).append(v)
                        stages.setdefault("wall", []).append(wall)
                        n_hands.append(out.result.detections)
                med = {s: float(np.median(v)) for s, v in stages.items()}
                fwd = med.get("forward", 0.0)
                rows.append({"model": model, "resolution": f"{w}x{h}", "hands": hands,
                             "detections_median": float(np.median(n_hands)), "stages_ms_median": med,
                             "model_ms": fwd, "overhead_ms": med["wall"] - fwd,
                             "refine_iterations": proc.pipeline.cfg.refine_iterations})
    return {"mode": "profile", "iters": iters, "warmup": warmup, "rows": rows}


def _start(model: str):
    """The node and a driver over DDS, as kpfusion-soak runs them."""
    from kpfusion_ros.ros.harness import BENCH_PARAMS, start_rig

    return start_rig(None, *BENCH_PARAMS, model=model, markers=False, tf=False, name="kpfusion_bench_driver")


def e2e(resolutions, hands: int, rate: float, seconds: float, model: str) -> dict:
    from kpfusion_ros.data.synthetic.presets import clean_frames
    from kpfusion_ros.ros.harness import latency_stats, stop_rig

    rows = []
    for (w, h) in resolutions:
        frames = clean_frames(hands, w, h)  # static scene: hands are tracked and published
        hs = _start(model)
        try:
            hs.stream(frames, rate, 3.0)  # warm-up
            t0 = time.time_ns()
            hs.stream(frames, rate, seconds)
            hs.spin(2.0)
            d = hs.latest_diag()
        finally:
            stop_rig(hs)
        lat = latency_stats(hs.arrivals, t0)
        stages = {k[len("stage_ms_p50_"):]: float(v) for k, v in d.items() if k.startswith("stage_ms_p50_")}
        fwd = stages.get("forward", float("nan"))
        rows.append({"resolution": f"{w}x{h}", "hands": hands, "rate_hz": rate, "latency_ms": lat,
                     "node_stage_ms_p50": stages, "node_latency_ms_p50": float(d.get("latency_ms_p50", "nan")),
                     "forward_ms_p50": fwd, "e2e_minus_forward_ms_p50": lat.get("p50", float("nan")) - fwd,
                     "node_overhead_ms_p50": stages.get("overhead", float("nan")),
                     "dropped": int(d.get("sets_dropped_stale", 0)),
                     "hands_per_published_array": hs.hands_published / max(len(hs.arrivals), 1)})
    return {"mode": "e2e", "model": model, "rows": rows}


def throughput(rates, seconds: float, hands: int, w: int, h: int, model: str) -> dict:
    from kpfusion_ros.data.synthetic.presets import clean_frames
    from kpfusion_ros.ros.harness import latency_stats, stop_rig

    frames = clean_frames(hands, w, h)  # static scene: hands are tracked and published
    hs = _start(model)
    rows = []
    try:
        hs.stream(frames, 2.0, 3.0)
        for r in rates:
            d0 = hs.latest_diag()
            sent0, hands0, arr0 = hs.sent, hs.hands_published, len(hs.arrivals)
            t0 = time.time_ns()
            hs.stream(frames, r, seconds)
            t1 = time.time_ns()
            hs.spin(1.5)
            d1 = hs.latest_diag()
            half = (t1 - t0) // 2
            pub = [a for a in hs.arrivals if t0 <= a[0] < t1]
            rows.append({"rate_hz": r, "sent": hs.sent - sent0, "published_rate_hz": len(pub) / seconds,
                         "sets_received": int(d1["sets_received"]) - int(d0["sets_received"]),
                         "dropped_stale": int(d1["sets_dropped_stale"]) - int(d0["sets_dropped_stale"]),
                         "hands_per_published_array": (hs.hands_published - hands0) / max(len(hs.arrivals) - arr0, 1),
                         "latency_ms_first_half": latency_stats(hs.arrivals, t0, t0 + half),
                         "latency_ms_second_half": latency_stats(hs.arrivals, t0 + half, t1)})
    finally:
        stop_rig(hs)
    kept_up = [r["rate_hz"] for r in rows if r["dropped_stale"] == 0 and r["published_rate_hz"] >= 0.95 * r["rate_hz"]]
    return {"mode": "throughput", "model": model, "resolution": f"{w}x{h}", "hands": hands, "rows": rows,
            "highest_rate_without_drops_hz": max(kept_up) if kept_up else None,
            "processing_rate_when_saturated_hz": max((r["published_rate_hz"] for r in rows), default=None)}


def _res(s: str):
    w, h = s.lower().split("x")
    return int(w), int(h)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="kpfusion-bench-node", description=__doc__.split("\n")[0])
    ap.add_argument("mode", choices=["profile", "e2e", "throughput"])
    ap.add_argument("--resolutions", default="640x480,1280x720")
    ap.add_argument("--hands", default="1,2", help="profile: list; e2e/throughput: the first")
    ap.add_argument("--models", default="random:lite,random:official", help="profile: list; others: the first")
    ap.add_argument("--iters", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--rate", type=float, default=2.0, help="e2e input rate (low: no drops)")
    ap.add_argument("--rates", default="2,5,10,30", help="throughput input rates")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--threads", type=int, default=0, help="torch threads in-process (0 = default)")
    ap.add_argument("--out", default=None)
    a = ap.parse_args(argv)
    load_before = os.getloadavg()
    import torch

    if a.threads:
        torch.set_num_threads(a.threads)
    res_list = [_res(s) for s in a.resolutions.split(",")]
    hands = [int(x) for x in a.hands.split(",")]
    models = a.models.split(",")
    if a.mode == "profile":
        out = profile(res_list, hands, models, a.iters, a.warmup)
    elif a.mode == "e2e":
        out = e2e(res_list, hands[0], a.rate, a.seconds, models[0])
    else:
        out = throughput([float(x) for x in a.rates.split(",")], a.seconds, hands[0], *res_list[0], models[0])
    out["machine"] = _machine(load_before)
    out["command"] = "kpfusion-bench-node " + " ".join(sys.argv[1:] if argv is None else argv)
    text = json.dumps(out, indent=2)
    print(text)
    if a.out:
        Path(a.out).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
