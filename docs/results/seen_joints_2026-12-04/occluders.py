"""What hides the training stream's joints: for every joint that is not seen (preprocessing.SEEN_DZ_MM rule), the
instance at its pixel (the hand itself with its arm, the other hand, the held or nearby object, anything else, no
depth at its pixel, outside the image), and for every hidden hand (<= HIDDEN_MAX_SEEN seen) what hides most of its joints.

    python -P docs/results/seen_joints_2026-12-04/occluders.py [FRAMES]
"""
import sys
from collections import Counter

import numpy as np

from kpfusion_ros.data.synthetic import render_batch
from kpfusion_ros.data.synthetic.scene import OBJECT_INSTANCE
from kpfusion_ros.evaluation.real_frames import label_depth_offsets, seen_from_offsets
from kpfusion_ros.preprocessing import HIDDEN_MAX_SEEN
from kpfusion_ros.training.data import DataConfig

n = int(sys.argv[1]) if len(sys.argv) > 1 else 192
dc = DataConfig()
joints, hands, hidden_hands = Counter(), 0, Counter()
for s in range(0, n, 32):
    fb = render_batch(dc.seed, range(s, min(s + 32, n)), dc.synthetic())
    for b in range(fb.depth.shape[0]):
        valid = np.flatnonzero(fb.hand_valid[b].numpy())
        if not len(valid):
            continue
        cam = fb.cam[b].double().numpy()
        depth, inst = fb.depth[b].float().numpy(), fb.instance[b].numpy()
        j = fb.joints_mm[b][valid].double().numpy()
        dz = label_depth_offsets(j, depth, cam)
        seen = seen_from_offsets(dz)
        H, W = depth.shape
        u = np.rint(j[..., 0] * cam[0] / j[..., 2] + cam[2]).astype(int)
        v = np.rint(j[..., 1] * cam[1] / j[..., 2] + cam[3]).astype(int)
        for k, h in enumerate(valid):
            hands += 1
            what = []
            for i in range(21):
                if np.isfinite(dz[k, i]) and dz[k, i] <= 20.0:
                    continue
                if not (0 <= u[k, i] < W and 0 <= v[k, i] < H and j[k, i, 2] > 0):
                    c = "outside the image"
                elif not np.isfinite(dz[k, i]):
                    c = "no depth at its pixel (sensor dropout, shadow band, edge)"
                else:
                    o = int(inst[v[k, i], u[k, i]])
                    c = ("the hand itself" if o == h else "the held or nearby object" if o == OBJECT_INSTANCE
                         else "the other hand" if o in (0, 1) else "anything else (background, clutter)")
                what.append(c)
            joints.update(what)
            if seen[k] <= HIDDEN_MAX_SEEN and what:
                hidden_hands[Counter(what).most_common(1)[0][0]] += 1
tot = sum(joints.values())
print(f"training stream (seed {dc.seed}, frames 0..{n - 1}, {dc.width}x{dc.height}): {hands} hands, {tot} joints not seen")
for c, m in joints.most_common():
    print(f"  joints not seen, hidden by {c}: {m} ({m / tot:.1%})")
th = sum(hidden_hands.values())
print(f"hidden hands (<= {HIDDEN_MAX_SEEN} seen): {th}; what hides most of their joints:")
for c, m in hidden_hands.most_common():
    print(f"  {c}: {m} ({m / th:.1%})")
