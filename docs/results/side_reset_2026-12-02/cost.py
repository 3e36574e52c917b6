"""CPU cost per frame of the side sources, on rendered sequences (2 torch threads).

    python cost.py OUT.json [--seeds 407,408] [--frames 60]

Runs :class:`~kpfusion_ros.pipeline.HandPosePipeline` with the node's defaults (``pipeline_config(NodeConfig())``)
plus each configuration's parameters over the same rendered frames (rendered once, before any timing), and
records ``FrameResult.timings_ms`` per frame: the median and mean of ``total`` and of ``side_test`` (0 on frames
of the verifier source), and the share of frames on which a test ran (``side_test`` over 5 ms: a test is a forward
pass of 18 crops per tested hand, 100 ms or more on 2 cores, while a frame with no test due spends well under 1 ms
there). The per-frame figures are in the JSON too. Configurations: V (verifier), S10 (stability, 10
estimates, no re-tests), X (stability, 10 estimates, re-tested every 3rd frame, a window of 10).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from dataclasses import replace

import numpy as np

CONFIGS = {
    "V": {"side_source": "verifier"},
    "S10": {"side_source": "stability", "min_side_estimates": 10, "side_retest_every": 0, "side_window": 10},
    "X": {"side_source": "stability", "min_side_estimates": 10, "side_retest_every": 3, "side_window": 10},
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--seeds", default="407,408")
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    import torch

    from kpfusion_ros.data.synthetic import SyntheticConfig, SyntheticSequences
    from kpfusion_ros.node_config import NodeConfig, pipeline_config
    from kpfusion_ros.pipeline import HandPosePipeline

    torch.set_num_threads(args.threads)
    seeds = [int(s) for s in args.seeds.split(",")]
    reader = SyntheticSequences(seeds, num_frames=args.frames, config=SyntheticConfig(width=320, height=240))
    seqs = [[reader[i] for i in idx] for idx in reader.sequence_indices().values()]
    out = {"command": "python docs/results/side_reset_2026-12-02/cost.py " + " ".join(
               f"{k} {v}" for k, v in (("--seeds", args.seeds), ("--frames", args.frames),
                                       ("--threads", args.threads))) + f" {args.out}",
           "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform(), "torch": torch.__version__,
                       "load_before": os.getloadavg()},
           "configs": {}}
    for name, params in CONFIGS.items():
        pipe = HandPosePipeline(pipeline_config(replace(NodeConfig(), device="cpu", **params)))
        totals, tests = [], []
        for frames in seqs:
            pipe.reset()
            for fr in frames:
                r = pipe.process(fr.color, np.asarray(fr.depth, np.float32), fr.cam, stamp=float(fr.stamp))
                totals.append(r.timings_ms["total"])
                tests.append(r.timings_ms.get("side_test", 0.0))
        totals, tests = np.asarray(totals), np.asarray(tests)
        ran = tests > 5.0
        out["configs"][name] = {
            "params": params, "frames": int(totals.size),
            "total_ms_median": float(np.median(totals)), "total_ms_mean": float(totals.mean()),
            "side_test_ms_mean": float(tests.mean()),
            "side_test_ms_median_when_run": float(np.median(tests[ran])) if ran.any() else 0.0,
            "frames_with_a_test": float(ran.mean()),
            "total_ms_mean_with_a_test": float(totals[ran].mean()) if ran.any() else None,
            "total_ms_mean_without": float(totals[~ran].mean()) if (~ran).any() else None,
            "per_frame_total_ms": [round(float(x), 2) for x in totals],
            "per_frame_side_test_ms": [round(float(x), 2) for x in tests],
        }
        print(name, json.dumps({k: v for k, v in out["configs"][name].items() if not k.startswith("per_frame")}),
              flush=True)
    out["machine"]["load_after"] = os.getloadavg()
    out["finished"] = time.strftime("%Y-%m-%d %H:%M:%S")
    with open(args.out, "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
