"""The rule of README.md applied to the committed runs beside this file; prints the table and the choice.

    python3 docs/results/refine_2026-12-02/choose.py   (repository root, scripts/env.sh sourced)
"""
import json
from pathlib import Path

from kpfusion_ros.evaluation.real_frames import detection_f1 as f1

here = Path(__file__).parent


rows = {}
for r in (0, 1, 2):
    n = json.loads((here / f"seq_r{r}.json").read_text())["node"]
    rows[r] = dict(found=n["found"], elsewhere=n["detections_elsewhere"], f1=f1(n["found"], n["detections_elsewhere"],
                   n["labelled_hands"]), centre=n["centre_error_mm"]["median"], mpjpe=n["pose"]["mpjpe_mm"],
                   pa=n["pose"]["pa_mpjpe_mm"], auroc=n["confidence"]["auroc_true_vs_false"])
    print(r, {k: round(v, 4) if isinstance(v, float) else v for k, v in rows[r].items()})
ok = [r for r in rows if rows[r]["f1"] >= rows[1]["f1"] - 0.01]
best = min(ok, key=lambda r: rows[r]["mpjpe"])
chosen = min((r for r in ok if rows[r]["mpjpe"] <= rows[best]["mpjpe"] + 0.3), key=lambda r: r)
print("eligible", ok, "lowest MPJPE", best, "chosen (ties within 0.3 mm to fewer iterations)", chosen)
