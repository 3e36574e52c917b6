"""``kpfusion-bench-localizer``: accuracy and speed of the depth-only hand localiser.

Renders synthetic frames (:mod:`kpfusion_ros.data.synthetic`) and runs
:class:`~kpfusion_ros.localization.HandLocalizer` on their depth (uint16 mm as float32).
Candidates are matched one-to-one to ground-truth hands by 3D distance between the
candidate centre and the GT joint mean (greedy, nearest first, ≤ ``--match-mm``).

Reported per setting: recall (matched GT hands / GT hands), false positives per frame
(unmatched candidates), centre error to the GT joint mean over matched hands (median,
p90, mm), the distance from every GT hand to its nearest candidate (median, p90; ``inf``
when no candidate), the localiser's wall time per frame (ms, median and mean), and from a
second run with ``min_score`` 0 (same ``max_hands``): the AUROC of the score (matched vs
unmatched detections), the handedness accuracy of matched hands (``p_right`` ≥ ½ = right) and
recall / false positives per frame at each ``--thresholds`` value (the trade-off table).

Localisers: ``current`` (the default :class:`~kpfusion_ros.localization.LocalizerConfig`: the
geometric proposals and the shipped hand verifier) and ``geometric`` (``verifier_path="none"``:
the geometric stage alone, the localiser before the verifier); ``--baseline MODULE`` adds another
localization module file.

Settings: ``default`` scenes (``SceneConfig()``: clutter, objects, tables, 1–2 hands,
sensor noise on) at 320×240 and 640×480, and ``clean`` one-hand scenes (no clutter,
objects, tables or edge placement, no sensor defects) at 320×240. ``--baseline MODULE``
(a file path) runs another localiser module (e.g. a saved copy of the old one) on the
same frames for a before/after comparison.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import platform
import sys
import time

import numpy as np
from tqdm import tqdm

from ..data.synthetic import SceneConfig, SyntheticConfig, render_batch
from ..data.synthetic.presets import clean_scene_config
from ..evaluation.matching import MATCH_MM, match_centres
from .. import localization


def settings(n_default: int, n_clean: int) -> list[tuple[str, SyntheticConfig, int]]:
    return [
        ("default_320x240", SyntheticConfig(width=320, height=240, scene=SceneConfig()), n_default),
        ("default_640x480", SyntheticConfig(width=640, height=480, scene=SceneConfig()), n_default),
        ("clean_one_hand_320x240", clean_scene_config(320, 240, num_hands=1, p_left=0.0), n_clean),
    ]


def _load_module(path: str):
    spec = importlib.util.spec_from_file_location("_bench_baseline_localization", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def _r(x):
    return None if x is None or not np.isfinite(x) else round(float(x), 2)


def _r3(x):
    return None if x is None or not np.isfinite(x) else round(float(x), 3)


def _unthresholded(loc):
    """The same localiser with ``min_score`` 0 (sharing its verifier), for the score's AUROC and trade-off."""
    from dataclasses import replace

    cfg = replace(loc.config, min_score=0.0)
    if getattr(loc, "verifier", None) is not None:
        return type(loc)(cfg, verifier=loc.verifier)
    return type(loc)(cfg)


def evaluate(localizers: dict, frames, match_mm: float, thresholds=()) -> dict:
    from ..evaluation.metrics import auroc

    acc = {k: dict(n_gt=0, n_match=0, n_fp=0, err=[], near=[], ms=[], pos=[], neg=[], side=[], per=[])
           for k in localizers}
    open_locs = {k: _unthresholded(v) for k, v in localizers.items()}
    for f in frames:
        depth = f.depth.astype(np.float32)
        cam = tuple(float(v) for v in f.cam)
        gt = f.joints_mm.astype(np.float64).mean(axis=1).reshape(-1, 3)
        right = np.asarray(f.is_right, bool)
        for name, loc in localizers.items():
            t = time.perf_counter()
            cands = loc.localize(depth, cam)
            a = acc[name]
            a["ms"].append((time.perf_counter() - t) * 1e3)
            cc = np.array([c.centre_mm for c in cands], dtype=np.float64).reshape(-1, 3)
            p = match_centres(gt, cc, match_mm)
            a["n_gt"] += len(gt)
            a["n_match"] += len(p)
            a["n_fp"] += len(cc) - len(p)
            a["err"] += [e for _, _, e in p]
            for g in gt:
                a["near"].append(float(np.min(np.linalg.norm(cc - g, axis=1))) if len(cc) else float("inf"))
            # unthresholded: score ranking, handedness, trade-off
            allc = open_locs[name].localize(depth, cam)
            ca = np.array([c.centre_mm for c in allc], dtype=np.float64).reshape(-1, 3)
            pa = {j: i for i, j, _ in match_centres(gt, ca, match_mm)}
            for j, c in enumerate(allc):
                (a["pos"] if j in pa else a["neg"]).append(float(c.score))
                if j in pa and getattr(c, "p_right", 0.5) != 0.5:
                    a["side"].append(bool(c.p_right >= 0.5) == bool(right[pa[j]]))
            a["per"].append([(float(c.score), j in pa) for j, c in enumerate(allc)])
    out = {}
    for name, a in acc.items():
        n = len(a["ms"])
        err, near = np.array(a["err"]), np.array(a["near"])
        trade = []
        for th in thresholds:
            tp = sum(1 for fr in a["per"] for s, m in fr if m and s >= th)
            fp = sum(1 for fr in a["per"] for s, m in fr if not m and s >= th)
            trade.append({"min_score": th, "recall": _r(tp / max(a["n_gt"], 1)), "false_positives_per_frame":
                          _r(fp / max(n, 1))})
        out[name] = {
            "frames": n, "gt_hands": a["n_gt"], "matched": a["n_match"],
            "recall": _r(a["n_match"] / max(a["n_gt"], 1)),
            "false_positives_per_frame": _r(a["n_fp"] / max(n, 1)),
            "centre_error_mm_median": _r(np.median(err)) if err.size else None,
            "centre_error_mm_p90": _r(np.percentile(err, 90)) if err.size else None,
            "nearest_candidate_mm_median": _r(np.median(near)) if near.size else None,
            "nearest_candidate_mm_p90": _r(np.percentile(near, 90)) if near.size else None,
            "runtime_ms_median": _r(np.median(a["ms"])), "runtime_ms_mean": _r(np.mean(a["ms"])),
            "score_auroc": _r3(auroc(a["pos"], a["neg"])),
            "handedness_accuracy": _r3(float(np.mean(a["side"]))) if a["side"] else None,
            "handedness_hands": len(a["side"]),
            "tradeoff": trade,
        }
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="kpfusion-bench-localizer", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--frames", type=int, default=200, help="frames per default-scene setting")
    p.add_argument("--clean-frames", type=int, default=150, help="frames of clean one-hand scenes")
    p.add_argument("--seed", type=int, default=23, help="synthetic stream seed (constants were fitted on 11)")
    p.add_argument("--match-mm", type=float, default=MATCH_MM, help=f"max centre distance for a match (mm, default {MATCH_MM:g})")
    p.add_argument("--baseline", default=None, help="path of another localization.py to compare (e.g. the old one)")
    p.add_argument("--batch", type=int, default=16, help="frames rendered per batch")
    p.add_argument("--out", default=None, help="write the JSON here")
    p.add_argument("--thresholds", default="0,0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9",
                   help="min_score values of the trade-off table (comma list)")
    p.add_argument("--settings", default="", help="only these settings (comma list; default all)")
    p.add_argument("--no-geometric", action="store_true", help="do not also run the geometric localiser alone")
    p.add_argument("--verifier", default="", help="hand verifier weights of the 'current' localiser (default: the "
                   "shipped models/hand_verifier.pt)")
    args = p.parse_args(argv)
    import torch

    torch.set_num_threads(1)  # the node's localiser runs beside the network; measure it on one thread
    localizers = {"current": localization.HandLocalizer(localization.LocalizerConfig(verifier_path=args.verifier))}
    if not args.no_geometric:
        localizers["geometric"] = localization.HandLocalizer(
            localization.LocalizerConfig(verifier_path=localization.NO_VERIFIER))
    if args.baseline:
        mod = _load_module(args.baseline)
        localizers = {"baseline": mod.HandLocalizer(mod.LocalizerConfig()), **localizers}
    res = {"tool": "kpfusion-bench-localizer", "seed": args.seed, "match_mm": args.match_mm,
           "baseline": args.baseline, "platform": platform.platform(), "python": platform.python_version(),
           "numpy": np.__version__, "settings": {}}
    thresholds = [float(t) for t in args.thresholds.split(",") if t.strip()]
    only = {t.strip() for t in args.settings.split(",") if t.strip()}
    res["verifier"] = localizers["current"].verifier_description
    for name, cfg, n in settings(args.frames, args.clean_frames):
        if n <= 0 or (only and name not in only):
            continue
        frames = []
        with tqdm(total=n, desc=f"render {name}", file=sys.stderr) as bar:
            for s in range(0, n, args.batch):
                b = render_batch(args.seed, range(s, min(n, s + args.batch)), cfg).frames()
                frames += b
                bar.update(len(b))
        res["settings"][name] = evaluate(localizers, tqdm(frames, desc=f"localize {name}", file=sys.stderr),
                                         args.match_mm, thresholds)
    text = json.dumps(res, indent=2)
    print(text)
    if args.out:
        with open(args.out, "w") as fh:
            fh.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
