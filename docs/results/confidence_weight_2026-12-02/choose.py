"""Apply the rule of README.md to the two runs beside this file (run from the repository root)."""
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
from kpfusion_ros.evaluation.metrics import auroc  # noqa: E402
from kpfusion_ros.evaluation.real_frames import TRADEOFF_THRESHOLDS, detection_f1  # noqa: E402
from kpfusion_ros.tracking import overall_confidence  # noqa: E402

HERE = Path(__file__).resolve().parent
WEIGHTS = (0.0, 0.1, 0.25, 0.4, 0.5, 0.75, 1.0)


def scored(path, w):
    n = json.load(open(path))["node"]
    p = n["confidence"]["parts"]
    t = [overall_confidence(hs, pc, w) for hs, pc, *_ in p["true"]]
    f = [overall_confidence(hs, pc, w) for hs, pc, *_ in p["false"]]
    return n, t, f


def threshold_rule(n, t, f):
    """The rule of docs/results/confidence_threshold_2026-12-01/ on one run's recombined confidences ``t`` (true
    hands) and ``f`` (false ones): prints the trade-off with F1 and returns the chosen min_hand_confidence."""
    H = n["labelled_hands"]
    rows = [(th, sum(c >= th for c in t), sum(c >= th for c in f)) for th in TRADEOFF_THRESHOLDS]
    f1 = [(th, F, E, detection_f1(F, E, H)) for th, F, E in rows]
    for r in f1:
        print("  min_hand_confidence %.2f: found %d, elsewhere %d, F1 %.4f" % r)
    top = max(f1, key=lambda r: (r[3], -r[0]))
    chosen = top[0] if top[3] >= f1[0][3] + 0.01 else 0.0
    print("threshold rule: best", top[0], "F1", round(top[3], 4), "vs 0:", round(f1[0][3], 4), "->", chosen)
    return chosen


def main():
    sel, rep = HERE / "seq_401_406.json", HERE / "seq_301_306.json"
    table = {w: auroc(*scored(sel, w)[1:]) for w in WEIGHTS}
    best = max(WEIGHTS, key=lambda w: (table[w], -abs(w - 0.25)))
    chosen = best if table[best] >= table[0.25] + 0.01 else 0.25
    print("selection AUROC by w:", {w: round(a, 4) for w, a in table.items()})
    print("best", best, "chosen", chosen)
    n, t, f = scored(rep, chosen)
    print("report set AUROC at the chosen w:", round(auroc(t, f), 4), "(at 0.25:", round(auroc(*scored(rep, 0.25)[1:]), 4), ")")
    if chosen != 0.25:
        threshold_rule(n, t, f)


if __name__ == "__main__":
    main()
