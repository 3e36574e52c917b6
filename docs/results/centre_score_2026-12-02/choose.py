"""Apply the rule of README.md to the two runs beside this file (run from the repository root)."""
import importlib.util
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
from kpfusion_ros.evaluation.metrics import auroc  # noqa: E402
from kpfusion_ros.tracking import overall_confidence  # noqa: E402

HERE = Path(__file__).resolve().parent
# the threshold rule as the pose-weight study applies it (its choose.py's threshold_rule)
_spec = importlib.util.spec_from_file_location("choose_confidence_weight",
                                               HERE.parent / "confidence_weight_2026-12-02" / "choose.py")
_base = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_base)
threshold_rule = _base.threshold_rule
WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)


def scored(path, v):
    """(node result, true confidences, false confidences) of the run at ``path`` recombined with weight ``v``."""
    n = json.load(open(path))["node"]
    p = n["confidence"]["parts"]
    w = p["pose_confidence_weight"]
    t = [overall_confidence(hs, pc, w, cs, v) for hs, pc, _, cs in p["true"]]
    f = [overall_confidence(hs, pc, w, cs, v) for hs, pc, _, cs in p["false"]]
    return n, t, f


def main():
    sel, rep = HERE / "seq_401_406.json", HERE / "seq_301_306.json"
    table = {v: auroc(*scored(sel, v)[1:]) for v in WEIGHTS}
    best = max(WEIGHTS, key=lambda v: (table[v], -v))
    chosen = best if table[best] >= table[0.0] + 0.01 else 0.0
    print("selection AUROC by v:", {v: round(a, 4) for v, a in table.items()})
    print("best", best, "chosen", chosen)
    n, t, f = scored(rep, chosen)
    print("report set AUROC at the chosen v:", round(auroc(t, f), 4),
          "(at 0:", round(auroc(*scored(rep, 0.0)[1:]), 4), ")")
    if chosen != 0.0:
        threshold_rule(n, t, f)


if __name__ == "__main__":
    main()
