"""How many of 512 held-out smooth blobs a verifier calls a hand (the selection rule's second test).

    python -P docs/results/verifier_2026-12-02/blob_scores.py WEIGHTS.pt [WEIGHTS.pt ...] > blob_scores.json

Blobs: ``smooth_blob_patches(512, spec, torch.Generator().manual_seed(99))`` (the training bank uses the run's
seed + 1). Prints, per weight file, the fraction with p(hand) ≥ 0.1 (the localiser's ``min_hand_score``) and
≥ 0.5, and the median p(hand).
"""
import json
import sys

import torch

from kpfusion_ros.detection.clutter import smooth_blob_patches
from kpfusion_ros.detection.verifier import load_verifier

torch.set_num_threads(1)
out = {}
for path in sys.argv[1:]:
    model, _ = load_verifier(path)
    model.eval()
    x = smooth_blob_patches(512, model.spec, torch.Generator().manual_seed(99))
    with torch.no_grad():
        p = torch.sigmoid(model.decode(model(x)).hand_logit.float())
    out[path] = {"blobs": len(p), "p_ge_0.1": round(float((p >= 0.1).float().mean()), 4),
                 "p_ge_0.5": round(float((p >= 0.5).float().mean()), 4), "median_p": round(float(p.median()), 4)}
json.dump(out, sys.stdout, indent=1)
print()
