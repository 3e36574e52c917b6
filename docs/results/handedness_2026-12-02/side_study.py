"""The side-accumulation study of README.md (run from the repository root, with the package installed).

    python -P docs/results/handedness_2026-12-02/side_study.py log 401,402,...,412 /tmp/side_sel.json
    python -P docs/results/handedness_2026-12-02/side_study.py log 301,302,303,304,305,306 /tmp/side_rep.json
    python -P docs/results/handedness_2026-12-02/side_study.py choose /tmp/side_sel.json /tmp/side_rep.json

``log`` runs the localiser at node defaults (the shipped verifier) on rendered sequences and writes, for
every detection within 80 mm of a labelled hand's joint mean, [seed, hand, frame, is_right, right_logit, score].
``choose`` applies the rule of README.md and prints its tables (JSON with ``--json``).
"""

from __future__ import annotations

import argparse
import json
import math
from collections import defaultdict

import numpy as np

from kpfusion_ros.tracking import TrackerConfig

MAX_LOGIT = TrackerConfig.max_side_logit  # the tracker's clip of a detection's side logit

RHOS = (0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0)
TAUS = tuple(round(0.6 + 0.05 * i, 2) for i in range(8))


def log(seeds: list[int], out: str, frames: int = 150) -> None:
    import torch

    from kpfusion_ros.data.synthetic import SyntheticConfig, SyntheticSequences
    from kpfusion_ros.evaluation.matching import MATCH_MM
    from kpfusion_ros.localization import HandLocalizer, LocalizerConfig

    torch.set_num_threads(1)
    loc = HandLocalizer(LocalizerConfig())
    rows = []
    for sd in seeds:
        seq = SyntheticSequences([sd], num_frames=frames, config=SyntheticConfig(width=320, height=240))
        for i in range(len(seq)):
            fr = seq[i]
            cands = loc.localize(np.asarray(fr.depth, np.float32), fr.cam)
            J = np.asarray(fr.joints_mm)
            for h in range(fr.num_hands):
                d = [np.linalg.norm(c.centre_mm - J[h].mean(0)) for c in cands]
                if d and min(d) < MATCH_MM:
                    c = cands[int(np.argmin(d))]
                    rows.append([sd, h, i, bool(fr.is_right[h]), float(c.right_logit), float(c.score)])
        print(sd, len(rows), flush=True)
    with open(out, "w") as f:
        json.dump(rows, f)


def track_p(rows: list, rule: str, rho: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Per detection: (the track's p(right) after it, the truth), tracks = (seed, hand) in frame order."""
    by = defaultdict(list)
    for r in rows:
        by[(r[0], r[1])].append(r)
    ps, ys = [], []
    for key in sorted(by):
        s = w_sum = 0.0
        for _, _, _, right, logit, score in sorted(by[key], key=lambda r: r[2]):
            w = max(float(score), 1e-3)
            s += w * float(np.clip(logit, -MAX_LOGIT, MAX_LOGIT))
            w_sum += w
            z = s / w_sum if rule == "mean" else float(np.clip(rho * s, -MAX_LOGIT, MAX_LOGIT))
            ps.append(1.0 / (1.0 + math.exp(-z)))
            ys.append(bool(right))
    return np.array(ps), np.array(ys)


def log_loss(p: np.ndarray, y: np.ndarray) -> float:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return float(-np.mean(np.where(y, np.log(p), np.log(1 - p))))


def published(p: np.ndarray, y: np.ndarray, tau: float) -> dict:
    conf = np.maximum(p, 1 - p)
    pub = conf >= tau
    correct = pub & ((p >= 0.5) == y)
    return {"tau": tau, "detections": int(len(p)), "published": int(pub.sum()), "correct": int(correct.sum()),
            "accuracy_published": float(correct.sum() / max(pub.sum(), 1)),
            "correct_of_all": float(correct.sum() / max(len(p), 1))}


def choose_tau(p, y) -> dict:
    rows = [published(p, y, t) for t in TAUS]
    ok = [r for r in rows if r["accuracy_published"] >= 0.95]
    best = ok[0] if ok else max(rows, key=lambda r: r["correct"])
    return {"chosen": best, "met_95": bool(ok), "table": rows}


def choose(sel_path: str, rep_path: str | None) -> dict:
    sel = json.load(open(sel_path))
    res = {"selection_detections": len(sel),
           "per_detection_accuracy": float(np.mean([(r[4] > 0) == r[3] for r in sel if r[4] != 0]))}
    res["rho_log_loss"] = {str(r): log_loss(*track_p(sel, "sum", r)) for r in RHOS}
    rho = min(RHOS, key=lambda r: res["rho_log_loss"][str(r)])
    res["rho"] = rho
    res["mean_log_loss"] = log_loss(*track_p(sel, "mean"))
    res["mean"] = choose_tau(*track_p(sel, "mean"))
    res["sum"] = choose_tau(*track_p(sel, "sum", rho))
    m, s = res["mean"]["chosen"], res["sum"]["chosen"]
    res["winner"] = "sum" if (s["correct"] > m["correct"]
                              and s["accuracy_published"] >= m["accuracy_published"] - 0.01) else "mean"
    if rep_path:
        rep = json.load(open(rep_path))
        w = res["winner"]
        tau = res[w]["chosen"]["tau"]
        res["report"] = {
            "per_detection_accuracy": float(np.mean([(r[4] > 0) == r[3] for r in rep if r[4] != 0])),
            "winner": published(*track_p(rep, w, rho), tau),
            "mean_at_0.75": published(*track_p(rep, "mean"), 0.75)}
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("log")
    a.add_argument("seeds")
    a.add_argument("out")
    b = sub.add_parser("choose")
    b.add_argument("selection")
    b.add_argument("report", nargs="?")
    b.add_argument("--json")
    args = ap.parse_args()
    if args.cmd == "log":
        log([int(s) for s in args.seeds.split(",")], args.out)
        return
    res = choose(args.selection, args.report)
    print(json.dumps({k: v for k, v in res.items() if k not in ("mean", "sum")}, indent=1))
    for rule in ("mean", "sum"):
        print(rule, "chosen", res[rule]["chosen"], "met 95 %:", res[rule]["met_95"])
        for r in res[rule]["table"]:
            print(f"  tau {r['tau']:.2f}: published {r['published']}/{r['detections']}, "
                  f"correct {r['correct']} ({r['accuracy_published']:.3f} of published)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
