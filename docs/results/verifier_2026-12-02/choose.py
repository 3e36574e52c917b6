"""The v5 selection rule (README.md beside this file) applied to the committed JSONs; prints the table and the choice.

    python3 docs/results/verifier_2026-12-02/choose.py
"""
import json
from pathlib import Path

here = Path(__file__).parent
blobs = json.loads((here / "blob_scores.json").read_text())
rows = []
for name in ("v4", "v5_epoch2", "v5_epoch3", "v5_epoch4"):
    f = here / f"selection_seed29_{name}.json"
    if not f.exists():
        continue
    cur = json.loads(f.read_text())["settings"]["default_320x240"]["current"]
    ok = [t for t in cur["tradeoff"] if t["false_positives_per_frame"] <= 0.53]
    best = max(ok, key=lambda t: (t["recall"], -t["false_positives_per_frame"])) if ok else None
    blob = next(v for k, v in blobs.items() if name.replace("v5_", "checkpoint_") in k or (name == "v4" and "models/" in k))
    rows.append({"name": name, "best": best, "at_0.1": next(t for t in cur["tradeoff"] if t["min_score"] == 0.1),
                 "auroc": cur["score_auroc"], "handedness": cur["handedness_accuracy"], "blob_p_ge_0.1": blob["p_ge_0.1"]})
v4_blob = rows[0]["blob_p_ge_0.1"]
print("| candidate | best recall at <= 0.53 false/frame (min_score) | at 0.1: recall / false | score AUROC | "
      "handedness | blobs with p >= 0.1 | candidate? |")
print("|---|---:|---:|---:|---:|---:|---|")
for r in rows:
    r["eligible"] = r["name"] == "v4" or r["blob_p_ge_0.1"] < v4_blob
    b = r["best"]
    print(f"| {r['name']} | {b['recall']:.2f} / {b['false_positives_per_frame']:.2f} ({b['min_score']:g}) | "
          f"{r['at_0.1']['recall']:.2f} / {r['at_0.1']['false_positives_per_frame']:.2f} | {r['auroc']:.3f} | "
          f"{r['handedness']:.3f} | {r['blob_p_ge_0.1']:.3f} | {'yes' if r['eligible'] else 'no (blobs)'} |")
el = [r for r in rows if r["eligible"] and r["best"]]
win = max(el, key=lambda r: (r["best"]["recall"], -r["best"]["false_positives_per_frame"]))
print(f"\nchosen: {win['name']}")
