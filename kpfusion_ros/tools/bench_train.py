"""kpfusion-bench-train: training throughput in hands/s — data alone, model alone, the whole step.

Example::

    kpfusion-bench-train --presets lite,official --steps 6 --json benchmarks/train_cpu.json

* **data**: crops rendered directly (:func:`kpfusion_ros.training.data.render_training_crops`,
  the sensor model included) in this process with one thread — what one background worker
  delivers;
* **model**: forward + losses + backward + AdamW step on a fixed batch of rendered crops, for
  each precision / memory-format variant asked (``--variants``: fp32, bf16 = CPU autocast to
  bfloat16, cl = channels-last);
* **step**: the trainer's loop (:class:`~kpfusion_ros.training.Trainer`) with the rendered-crop
  stream and its background workers, steady state (the first steps, which fill the pool, are
  excluded).

On CUDA (``--device cuda``) the same measurements run on the GPU. The JSON records the machine
(CPU count, torch threads, load average before and after), so figures from a busy machine can
be recognised as such.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time


def _load() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def bench_data(seed: int, n_samples: int, width: int, height: int, num_points: int) -> dict:
    import torch

    from ..preprocessing import CropConfig
    from ..training.data import DataConfig, render_training_crops

    torch.set_num_threads(1)
    syn = DataConfig(seed=seed, width=width, height=height).synthetic()
    cc = CropConfig(num_points=num_points)
    render_training_crops(seed, range(10_000, 10_002), syn, cc)  # warm-up
    t = time.perf_counter()
    crops = 0
    for i in range(0, n_samples, 4):
        crops += len(render_training_crops(seed, range(i, min(i + 4, n_samples)), syn, cc)["sample"])
    dt = time.perf_counter() - t
    return {"samples": n_samples, "crops": crops, "seconds": round(dt, 2), "hands_per_s_one_process": round(crops / dt, 2)}


def _batch(model_cfg, hands: int, device):
    import torch

    from ..preprocessing import CropConfig
    from ..training.data import DataConfig, RenderedCropStream

    cfg = DataConfig(seed=5, width=640, height=480, frames_per_step=hands, pool=hands, refresh=hands, workers=0)
    cc = CropConfig.for_model(model_cfg) if hasattr(CropConfig, "for_model") else CropConfig(
        crop_size=model_cfg.crop_size, num_points=model_cfg.num_points, bgr=model_cfg.rgb_input.startswith("bgr"))
    hb = RenderedCropStream(cfg, cc, device).batch(0)
    del torch
    return hb


def bench_model(preset: str, hands: int, steps: int, variants: list[str], device: str, threads: int) -> dict:
    import torch

    from ..model import build_model, preset as model_preset
    from ..training.losses import compute_losses

    torch.set_num_threads(threads)
    dev = torch.device(device)
    mcfg = model_preset(preset)
    hb = _batch(mcfg, hands, dev)
    out = {}
    for var in variants:
        gen = torch.Generator().manual_seed(0)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            model = build_model(mcfg).to(dev).train()
        inputs = list(hb.inputs())
        if "cl" in var:
            model = model.to(memory_format=torch.channels_last)
            inputs[0] = inputs[0].contiguous(memory_format=torch.channels_last)
            inputs[1] = inputs[1].contiguous(memory_format=torch.channels_last)
        opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
        amp = torch.autocast(dev.type, dtype=torch.bfloat16, enabled="bf16" in var)

        def step():
            with amp:
                o = model(*inputs)
            terms = compute_losses(o, hb.crops.depth, hb.xyz_gt, hb.uvd_gt, mcfg.awr_kernel)
            opt.zero_grad(set_to_none=True)
            terms["total"].backward()
            opt.step()
            if dev.type == "cuda":
                torch.cuda.synchronize(dev)

        step()
        t = time.perf_counter()
        for _ in range(steps):
            step()
        dt = (time.perf_counter() - t) / steps
        out[var] = {"seconds_per_step": round(dt, 3), "hands_per_s": round(len(hb) / dt, 2)}
        del gen
    return {"hands_per_step": len(hb), "threads": threads, "variants": out}


def bench_step(preset: str, hands: int, steps: int, workers: int, device: str, variant: str, out_dir: str) -> dict:
    import torch

    from ..training import TrainConfig, Trainer
    from ..training.data import DataConfig

    warm = 3
    cfg = TrainConfig(preset=preset, steps=warm + steps, device=device, log_every=1, ckpt_every=0,
                      precision="bf16" if "bf16" in variant else "fp32", channels_last="cl" in variant,
                      data=DataConfig(seed=21, frames_per_step=hands, workers=workers))
    tr = Trainer(cfg, out_dir, progress=False)
    tr.fit(resume=False)
    rows = tr.history
    t_warm = next(r["time_s"] for r in rows if r["step"] == warm)
    t_end = rows[-1]["time_s"]
    n = sum(r["hands"] for r in rows if r["step"] > warm)
    del torch
    return {"steps": steps, "workers": workers, "variant": variant, "hands": n,
            "seconds": round(t_end - t_warm, 2), "hands_per_s": round(n / max(t_end - t_warm, 1e-9), 2)}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kpfusion-bench-train", description=__doc__.split("\n")[0])
    p.add_argument("--presets", default="lite,official")
    p.add_argument("--hands", type=int, default=32, help="hands per training step")
    p.add_argument("--steps", type=int, default=5, help="timed steps per measurement")
    p.add_argument("--data-samples", type=int, default=32, help="samples rendered for the data figure")
    p.add_argument("--variants", default="fp32,bf16,cl,bf16+cl", help="model variants to time (comma list)")
    p.add_argument("--step-variant", default="", help="variant for the whole-step figure (default: the fastest)")
    p.add_argument("--workers", type=int, default=1, help="background rendering processes for the whole step")
    p.add_argument("--threads", type=int, default=0, help="torch threads for the model (0 = all cores)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--skip", default="", help="comma list of parts to skip: data, model, step")
    p.add_argument("--out-dir", default="", help="scratch run directory (default: a temporary one)")
    p.add_argument("--json", default="", help="write the results here")
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    import tempfile

    import torch

    from ..runtime import keep_freed_buffers

    skip = set(filter(None, args.skip.split(",")))
    memory_note = keep_freed_buffers()  # as kpfusion-train does
    threads = args.threads or os.cpu_count() or 1
    res = {"command": "kpfusion-bench-train " + " ".join(sys.argv[1:] if argv is None else argv),
           "device": args.device, "cpu_count": os.cpu_count(), "torch": torch.__version__,
           "malloc": memory_note, "load_before": _load(), "presets": {}}
    if "data" not in skip:
        res["data"] = bench_data(7, args.data_samples, 640, 480, 512)
        print(json.dumps({"data": res["data"]}), flush=True)
    for name in filter(None, args.presets.split(",")):
        r = {}
        variants = [v for v in args.variants.split(",") if v]
        if args.device != "cpu":
            variants = [v for v in variants if "bf16" not in v] or ["fp32"]
        if "model" not in skip:
            r["model"] = bench_model(name, args.hands, args.steps, variants, args.device, threads)
            print(json.dumps({name: r["model"]}), flush=True)
        if "step" not in skip:
            var = args.step_variant
            if not var and "model" in r:
                var = max(r["model"]["variants"], key=lambda v: r["model"]["variants"][v]["hands_per_s"])
            with tempfile.TemporaryDirectory() as tmp:
                r["step"] = bench_step(name, args.hands, args.steps, args.workers, args.device, var or "fp32",
                                       args.out_dir or tmp)
            print(json.dumps({name: {"step": r["step"]}}), flush=True)
        res["presets"][name] = r
    res["load_after"] = _load()
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1)
    print(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
