"""``kpfusion-bench-model``: parameters, FLOPs and forward latency of the model presets.

Prints JSON (and writes it with ``--out``): per preset the parameter counts (total,
trainable, used), FLOPs per sample at batch 1 (``torch.utils.flop_counter.FlopCounterMode``:
conv/linear/matmul only, 1 MAC = 2 FLOPs; ball query, kNN, gathers and softmaxes are not
counted) and the median eval-mode forward latency at each batch size, plus the latency ratio
dense_fusion / 1-stage KPFusion (paper Table 4: 16.19 / 12.47 ms = 1.30).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from ..model import build_model, count_parameters, preset
from ..model.example_inputs import example_inputs

DEFAULT_MODELS = ["official", "official_1stage", "lite", "depth_only", "dense_fusion"]


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def bench_one(name: str, device: torch.device, batches, iters: int, warmup: int) -> dict:
    cfg = preset(name)
    torch.manual_seed(0)
    model = build_model(cfg).to(device).eval()
    res = {"config": name, "arch": cfg.arch, "num_stages": cfg.num_stages if cfg.arch == "kpfusion" else 0,
           "params": count_parameters(model)}
    with torch.no_grad():
        x = example_inputs(cfg, 1, device=device)
        fc = FlopCounterMode(display=False)
        with fc:
            model(**x)
        res["gflops_per_sample"] = round(fc.get_total_flops() / 1e9, 4)
        lat = {}
        for b in batches:
            x = example_inputs(cfg, b, device=device)
            for _ in range(warmup):
                model(**x)
            times = []
            for _ in range(iters):
                _sync(device)
                t = time.perf_counter()
                model(**x)
                _sync(device)
                times.append((time.perf_counter() - t) * 1e3)
            lat[f"batch{b}_ms"] = round(statistics.median(times), 3)
        res["latency_median"] = lat
    return res


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="kpfusion-bench-model", description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    p.add_argument("--models", nargs="+", default=DEFAULT_MODELS, help="preset names")
    p.add_argument("--batches", nargs="+", type=int, default=[1, 4])
    p.add_argument("--iters", type=int, default=5)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: leave default)")
    p.add_argument("--out", help="also write the JSON here")
    a = p.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    device = torch.device(a.device)
    out = {"device": str(device), "torch": torch.__version__, "cpu_threads": torch.get_num_threads(),
           "machine": platform.machine(), "iters": a.iters, "warmup": a.warmup,
           "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None, "models": {}}
    for name in a.models:
        out["models"][name] = bench_one(name, device, a.batches, a.iters, a.warmup)
    m = out["models"]
    if "dense_fusion" in m and "official_1stage" in m:
        r = {}
        for k in m["dense_fusion"]["latency_median"]:
            r[k] = round(m["dense_fusion"]["latency_median"][k] / m["official_1stage"]["latency_median"][k], 3)
        out["dense_over_1stage_latency_ratio"] = r
        out["paper_dense_over_1stage_ratio"] = round(16.19 / 12.47, 3)
    text = json.dumps(out, indent=2)
    print(text)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
