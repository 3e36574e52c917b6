"""Joints seen per hand (kpfusion_ros.preprocessing.SEEN_DZ_MM rule) on frames of the training stream.

    python -P docs/results/seen_joints_2026-12-04/training_stream.py [FRAMES]
"""
import sys

import numpy as np

from kpfusion_ros.data.synthetic import render_batch
from kpfusion_ros.evaluation.real_frames import _label_depth_result, label_depth_offsets
from kpfusion_ros.training.data import DataConfig

n = int(sys.argv[1]) if len(sys.argv) > 1 else 192
dc = DataConfig()
dz = []
for s in range(0, n, 32):
    fb = render_batch(dc.seed, range(s, min(s + 32, n)), dc.synthetic())
    for b in range(fb.depth.shape[0]):
        valid = fb.hand_valid[b].numpy()
        if valid.any():
            dz.append(label_depth_offsets(fb.joints_mm[b][valid].numpy(), fb.depth[b].float().numpy(), fb.cam[b].numpy()))
r = _label_depth_result(dz)
print(f"training stream (seed {dc.seed}, frames 0..{n - 1}, {dc.width}x{dc.height}): hands {sum(len(x) for x in dz)}, "
      f"median dz {r['median_dz_mm']:.1f} mm, seen joints per hand median {r['seen_joints']['per_hand_median']:.1f} "
      f"mean {r['seen_joints']['per_hand_mean']:.1f}, share with <= 6 seen {r['seen_joints']['share_of_hands_with_6_or_fewer']:.3f}")
