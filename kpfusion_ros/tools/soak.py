"""kpfusion-soak: run the node against a synthetic camera for a while and report memory, rate, drops, latency.

Starts the installed node executable (``kpfusion_node``) as a subprocess, publishes
rendered RGB-D frames (``--hands`` hands each, cycling over a few renders) at
``--rate`` Hz stamped with the wall clock, and records: the node's resident memory
(VmRSS of /proc/PID/status) over time, every HandPoseArray's arrival (latency =
arrival − image stamp, measured on the test side), and the node's own /diagnostics
(sets received/dropped, per-stage timings). Prints one JSON object.

DDS must stay on this machine: run it through ``scripts/hermetic.sh``::

    scripts/hermetic.sh python -m kpfusion_ros.tools.soak --minutes 10 --rate 30 --hands 2 --out benchmarks/node_soak_10min.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Optional

import numpy as np

from kpfusion_ros.data.synthetic.presets import clean_frames
from kpfusion_ros.ros.harness import BENCH_PARAMS, latency_stats, start_rig, stop_rig


def run_soak(seconds: float, rate: float, hands: int, model: str = "random:lite", width: int = 640,
             height: int = 480, warmup_s: float = 5.0, warmup_frames: int = 10, log_path: Optional[str] = None, params: tuple = ()) -> dict:
    load_before = os.getloadavg()
    frames = clean_frames(hands, width, height)
    h = start_rig(None, *BENCH_PARAMS, *params, model=model, markers=False, tf=False, log_path=log_path,
                  name="kpfusion_soak_driver")
    try:
        rss = []  # (t, MB)
        h.stream(frames, rate, warmup_s)
        # warm-up also until a few frames went through the model (allocator caches fill on the first
        # forward passes; on a loaded machine that takes longer than warmup_s), at most 60 s more
        t_w = time.monotonic()
        while int(h.latest_diag(timeout=1.5).get("frames_processed", 0)) < warmup_frames and time.monotonic() - t_w < 60:
            h.stream(frames, rate, 1.0)
        t_start_ns = time.time_ns()
        rss.append((0.0, h.proc.rss_mb()))
        d0 = h.latest_diag()
        hands0, arrivals0 = h.hands_published, len(h.arrivals)
        h.stream(frames, rate, seconds, on_tick=lambda t: rss.append((round(t, 1), h.proc.rss_mb())))
        t_end_ns = time.time_ns()
        rss.append((seconds, h.proc.rss_mb()))
        h.spin(3.0)  # let the last frames come out
        d1 = h.latest_diag()
        alive = h.proc.poll() is None
    finally:
        stop_rig(h)
        rc = h.proc.returncode
    third = (t_end_ns - t_start_ns) // 3
    sets = int(d1.get("sets_received", 0)) - int(d0.get("sets_received", 0))
    processed = int(d1.get("frames_processed", 0)) - int(d0.get("frames_processed", 0))
    dropped = int(d1.get("sets_dropped_stale", 0)) - int(d0.get("sets_dropped_stale", 0))
    bad = int(d1.get("bad_frames", 0)) - int(d0.get("bad_frames", 0))
    published = [a for a in h.arrivals if t_start_ns <= a[0] < t_end_ns]
    rss_vals = [m for _, m in rss]
    return {
        "tool": "kpfusion-soak", "seconds": seconds, "rate_hz_requested": rate, "hands": hands, "model": model,
        "resolution": f"{width}x{height}", "warmup_s": warmup_s,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": sys.version.split()[0],
                    # before the run (other work on the machine shows here) and after it (includes this run)
                    "load_average_1_5_15_min_before": [round(x, 2) for x in load_before],
                    "load_average_1_5_15_min_after": [round(x, 2) for x in os.getloadavg()]},
        "node_alive_at_end": alive, "node_exit_code": rc,
        "rss_mb": {"start": rss_vals[0], "end": rss_vals[-1], "max": max(rss_vals), "growth": rss_vals[-1] - rss_vals[0],
                   # robust to the ±25 MB sample-to-sample noise: median of the last vs the first 5 samples
                   "growth_median5": float(np.median(rss_vals[-5:]) - np.median(rss_vals[:5])),
                   "growth_second_half_median5": float(np.median(rss_vals[-5:]) - np.median(
                       rss_vals[len(rss_vals) // 2 - 2: len(rss_vals) // 2 + 3])),
                   "samples": rss[:: max(1, len(rss) // 60)]},
        "published_rate_hz": len(published) / seconds,
        "hands_per_published_array": (h.hands_published - hands0) / max(len(h.arrivals) - arrivals0, 1),
        "sets_sent": None, "sets_received": sets, "frames_processed": processed, "sets_dropped_stale": dropped,
        "bad_frames": bad, "sets_in_mailbox_at_end": int(d1.get("mailbox_pending", -1)),
        "sync_queue_max_at_end": int(d1.get("sync_queue_max", -1)),
        "latency_ms": latency_stats(h.arrivals, t_start_ns, t_end_ns),
        "latency_ms_first_third": latency_stats(h.arrivals, t_start_ns, t_start_ns + third),
        "latency_ms_last_third": latency_stats(h.arrivals, t_end_ns - third, t_end_ns),
        "node_diagnostics_end": d1,
    } | {"sets_sent": h.sent}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="kpfusion-soak", description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--rate", type=float, default=30.0)
    ap.add_argument("--hands", type=int, default=2)
    ap.add_argument("--model", default="random:lite", help="model_path of the node (default random:lite)")
    ap.add_argument("--width", type=int, default=640)
    ap.add_argument("--height", type=int, default=480)
    ap.add_argument("--warmup", type=float, default=10.0, help="seconds streamed before measuring")
    ap.add_argument("--node-log", default=None, help="write the node's output here")
    ap.add_argument("--out", default=None, help="also write the JSON here")
    a = ap.parse_args(argv)
    res = run_soak(a.minutes * 60.0, a.rate, a.hands, model=a.model, width=a.width, height=a.height,
                   warmup_s=a.warmup, log_path=a.node_log)
    res["command"] = "kpfusion-soak " + " ".join(sys.argv[1:] if argv is None else argv)
    text = json.dumps(res, indent=2)
    print(text)
    if a.out:
        Path(a.out).write_text(text + "\n")
    return 0 if res["node_alive_at_end"] else 1


if __name__ == "__main__":
    sys.exit(main())
