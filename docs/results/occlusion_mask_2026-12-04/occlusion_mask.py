"""Oracle test of an occlusion-aware crop on crossing hands: the rear hand's GT-centred crop with the depth as rendered
against the same crop with the front hand's pixels (its instance mask) set to 0 (no depth). Every 2nd frame of crossing
sequences (180 frames, cross_at 0.7, 320x240) where the front hand covers >= 5 % of the rear hand's joint box.

    python -P docs/results/occlusion_mask_2026-12-04/occlusion_mask.py 501,502,503
"""
import os
import sys
from dataclasses import replace

import numpy as np
from kpfusion_ros.data.synthetic import SyntheticConfig, SyntheticSequences
from kpfusion_ros.evaluation.real_frames import _labelled
from kpfusion_ros.node_config import NodeConfig, pipeline_config
from kpfusion_ros.pipeline import HandPosePipeline
seeds = [int(s) for s in sys.argv[1].split(",")]
r = SyntheticSequences(seeds, num_frames=180, cross_at=0.7, config=SyntheticConfig(width=320, height=240))
pc = pipeline_config(NodeConfig())
p = HandPosePipeline(replace(pc, model_path=os.environ.get("MODEL") or pc.model_path))  # MODEL=weights.pt
rows = []
for i in range(0, len(r), 2):
    f = r[i]; gj, gc, sides = _labelled(f)
    if len(gj) != 2: continue
    front, rear = (0, 1) if gc[0][2] < gc[1][2] else (1, 0)
    fx, fy, cx, cy = np.ravel(f.cam)[:4]
    u = fx * gj[rear][:, 0] / gj[rear][:, 2] + cx; v = fy * gj[rear][:, 1] / gj[rear][:, 2] + cy
    x0, x1, y0, y1 = int(u.min()) - 10, int(u.max()) + 10, int(v.min()) - 10, int(v.max()) + 10
    inst = f.instance
    win = inst[max(y0, 0):max(y1, 0), max(x0, 0):max(x1, 0)]
    overlap = float((win == front).mean()) if win.size else 0.0
    if overlap < 0.05: continue
    depth = np.asarray(f.depth, np.float32)
    masked = depth.copy(); masked[inst == front] = 0
    mir = np.array([sides[rear] == "left"])
    a = p.estimate(f.color, depth, f.cam, gc[rear:rear+1], mir)[0][0] * 1000
    b = p.estimate(f.color, masked, f.cam, gc[rear:rear+1], mir)[0][0] * 1000
    ea = np.linalg.norm(a - gj[rear], axis=-1).mean(); eb = np.linalg.norm(b - gj[rear], axis=-1).mean()
    rows.append((overlap, ea, eb, np.linalg.norm(a.mean(0)-gc[rear]), np.linalg.norm(b.mean(0)-gc[rear])))
R = np.array(rows)
print(seeds, "overlap frames", len(R), "rear-hand GT-crop MPJPE plain %.1f masked %.1f; centre err plain %.1f masked %.1f" % tuple(R[:, 1:].mean(0)))
hi = R[R[:, 0] > 0.2]
if len(hi): print("  overlap > 0.2:", len(hi), "plain %.1f masked %.1f; centre %.1f / %.1f" % tuple(hi[:, 1:].mean(0)))
