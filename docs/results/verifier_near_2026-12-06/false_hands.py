"""Where the localiser's false detections lie on rendered default scenes (320x240, frames 0..N-1 of a seed; at its
default min_score): distance to the nearest GT hand centre, depth behind it, what is under the detection centre.

    python -P docs/results/verifier_near_2026-12-06/false_hands.py [FRAMES [SEED [VERIFIER.pt]]]
    (80 frames of seed 23 and the installed verifier by default: false_hands_v5_seed23.txt)
"""
import sys, numpy as np
from kpfusion_ros.data.synthetic import SceneConfig, SyntheticConfig, render_batch
from kpfusion_ros.data.synthetic.generator import frame_generator
from kpfusion_ros.data.synthetic.scene import sample_scene
from kpfusion_ros.evaluation.matching import match_centres
from kpfusion_ros import localization
N = int(sys.argv[1]) if len(sys.argv) > 1 else 80
SEED = int(sys.argv[2]) if len(sys.argv) > 2 else 23
cfg = SyntheticConfig(width=320, height=240, scene=SceneConfig())
loc = localization.HandLocalizer(localization.LocalizerConfig(
    **({"verifier_path": sys.argv[3]} if len(sys.argv) > 3 else {})))
rows = []
nf = ngt = nm = 0
for s in range(0, N, 8):
    for f in render_batch(SEED, range(s, min(N, s + 8)), cfg).frames():
        view = sample_scene(frame_generator(SEED, f.index), 320, 240, cfg.scene, cfg.effective_sensor).view
        depth = f.depth.astype(np.float32); cam = tuple(float(v) for v in f.cam)
        gt = f.joints_mm.astype(np.float64).mean(axis=1).reshape(-1, 3)
        cands = loc.localize(depth, cam)
        cc = np.array([c.centre_mm for c in cands]).reshape(-1, 3)
        p = match_centres(gt, cc, 80.0)
        matched = {j for _, j, _ in p}
        nf += 1; ngt += len(gt); nm += len(p)
        fx, fy, cx, cy = cam
        for j, c in enumerate(cands):
            if j in matched:
                continue
            x, y, z = c.centre_mm
            u, v = int(np.clip(round(fx * x / z + cx), 0, 319)), int(np.clip(round(fy * y / z + cy), 0, 239))
            inst = int(f.instance[v, u])
            d = float(np.min(np.linalg.norm(gt - c.centre_mm, axis=1))) if len(gt) else np.inf
            dz = float(z - gt[np.argmin(np.linalg.norm(gt - c.centre_mm, axis=1)), 2]) if len(gt) else np.nan
            rows.append((view, inst, d, dz, float(c.score), z))
print(f"{nf} frames, {ngt} GT hands, {nm} found, {len(rows)} false; verifier {loc.verifier_description}")
import collections
for key, name in ((0, "view"), (1, "instance under centre (-1 background/table items, 2 objects near/held, 0/1 hands)")):
    print(name, dict(collections.Counter(r[key] for r in rows)))
d = np.array([r[2] for r in rows]); print("distance to nearest GT hand (mm): bins <150, 150-300, 300-500, >=500, no hand:",
      [int(((d >= a) & (d < b)).sum()) for a, b in ((0, 150), (150, 300), (300, 500), (500, 1e9))], int(np.isinf(d).sum()))
dz = np.array([r[3] for r in rows if np.isfinite(r[3]) and 150 <= r[2] < 500]); print("of those 150-500 mm away, depth behind the hand (median, share > 100 mm):", np.round(np.median(dz), 1) if len(dz) else None, np.round((dz > 100).mean(), 2) if len(dz) else None)
print("scores of false detections 150-500 mm from a hand, median:", np.round(np.median([r[4] for r in rows if 150 <= r[2] < 500]), 2))
print("scores of the others, median:", np.round(np.median([r[4] for r in rows if not 150 <= r[2] < 500]), 2))
