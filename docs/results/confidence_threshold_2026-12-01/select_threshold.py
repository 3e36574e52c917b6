"""Apply the rule of README.md to a kpfusion-eval-real JSON: print the trade-off with F1 and the chosen default.

    python docs/results/confidence_threshold_2026-12-01/select_threshold.py \
        docs/results/confidence_threshold_2026-12-01/synthetic_sequences.json
"""
import json
import sys

MIN_GAIN = 0.01  # F1 a threshold must gain over 0 to replace it (README.md)

rows = json.load(open(sys.argv[1]))["node"]["confidence"]["tradeoff"]
print("| min_hand_confidence | found | detections elsewhere | F1 |\n|---:|---:|---:|---:|")
for r in rows:
    print(f"| {r['min_hand_confidence']:g} | {r['found']} | {r['detections_elsewhere']} | {r['f1']:.3f} |")
base = rows[0]
assert base["min_hand_confidence"] == 0.0, "the run must publish every tracked hand (min_hand_confidence 0)"
best = max(rows, key=lambda r: (r["f1"], -r["min_hand_confidence"]))  # ties: the lower threshold
chosen = best if best["f1"] >= base["f1"] + MIN_GAIN else base
print(f"\nchosen default min_hand_confidence: {chosen['min_hand_confidence']:g} "
      f"(F1 {chosen['f1']:.3f}; at 0: {base['f1']:.3f})")
