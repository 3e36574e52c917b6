"""The v6 selection rule (README.md beside this file) applied to the files beside it; prints the table and the choice.

    python3 docs/results/verifier_near_2026-12-06/choose.py

Inputs, per candidate NAME in v5, v6_epoch1..3: selection_seed29_NAME.json (kpfusion-bench-localizer),
false_hands_NAME_seed29.txt (false_hands.py 120 29 WEIGHTS), and blob_scores.json (blob_scores.py over all four).
"""
import json
import re
from pathlib import Path

here = Path(__file__).parent
blobs = json.loads((here / "blob_scores.json").read_text())


def near_false(name: str) -> int:
    """False hands 150-500 mm from a GT hand (the bins line of false_hands.py)."""
    text = (here / f"false_hands_{name}_seed29.txt").read_text()
    bins = re.search(r">=500, no hand: \[(\d+), (\d+), (\d+), (\d+)\]", text)
    return int(bins.group(2)) + int(bins.group(3))


rows = []
for name in ("v5", "v6_epoch1", "v6_epoch2", "v6_epoch3"):
    f = here / f"selection_seed29_{name}.json"
    if not f.exists():
        continue
    cur = json.loads(f.read_text())["settings"]["default_320x240"]["current"]
    ok = [t for t in cur["tradeoff"] if t["false_positives_per_frame"] <= 0.53]
    best = max(ok, key=lambda t: (t["recall"], -t["false_positives_per_frame"])) if ok else None
    key = "hand_verifier.pt" if name == "v5" else name.replace("v6_", "checkpoint_") + ".pt"
    blob = next(v for k, v in blobs.items() if k.endswith(key) and ("V6" in k or "v6" in k) == (name != "v5"))
    rows.append({"name": name, "best": best, "at_0.1": next(t for t in cur["tradeoff"] if t["min_score"] == 0.1),
                 "auroc": cur["score_auroc"], "blob": blob["p_ge_0.1"], "near": near_false(name)})
v5 = rows[0]
assert v5["name"] == "v5"
print("| candidate | best recall at <= 0.53 false/frame (min_score) | at 0.1: recall / false | score AUROC | "
      "false hands 150-500 mm from a hand (120 frames) | blobs with p >= 0.1 | candidate? |")
print("|---|---:|---:|---:|---:|---:|---|")
for r in rows:
    why = []
    if r["name"] != "v5":
        if not r["near"] < v5["near"]:
            why.append("near")
        if r["blob"] > v5["blob"] + 0.02:
            why.append("blobs")
    r["eligible"] = not why
    b = r["best"]
    best = f"{b['recall']:.2f} / {b['false_positives_per_frame']:.2f} ({b['min_score']:g})" if b else "none"
    print(f"| {r['name']} | {best} | {r['at_0.1']['recall']:.2f} / {r['at_0.1']['false_positives_per_frame']:.2f} | "
          f"{r['auroc']:.3f} | {r['near']} | {r['blob']:.3f} | {'yes' if not why else 'no (' + ', '.join(why) + ')'} |")
el = [r for r in rows if r["eligible"] and r["best"]]
win = max(el, key=lambda r: (r["best"]["recall"], -r["best"]["false_positives_per_frame"]))
cur = json.loads((here / f"selection_seed29_{win['name']}.json").read_text())["settings"]["default_320x240"]["current"]
qualifying = sorted(t["min_score"] for t in cur["tradeoff"] if t["false_positives_per_frame"] <= 0.53)
th = 0.1 if win["at_0.1"]["false_positives_per_frame"] <= 0.53 else min(t for t in qualifying if t > 0.1)
print(f"\nchosen: {win['name']}; min_hand_score {th:g}")
