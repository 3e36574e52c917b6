"""GT-crop MPJPE and the offset probe's kept share per hand, binned by joints seen (real_frames.seen_from_offsets),
on rendered sequences (mixed sensors) and, with a local copy, on the F-PHAB sample.

    python -P docs/results/seen_joints_2026-12-04/error_by_seen.py syn 401,402,403,404,405,406 60
    python -P docs/results/seen_joints_2026-12-04/error_by_seen.py fphab ~/.cache/kpfusion_ros/data/fphab
    MODEL=weights.pt python -P ...   # other weights than the shipped ones
"""
import os
import sys
from dataclasses import replace

import numpy as np

from kpfusion_ros.evaluation.real_frames import _labelled, frame_order, label_depth_offsets, probe_offsets, seen_from_offsets
from kpfusion_ros.node_config import NodeConfig, pipeline_config
from kpfusion_ros.pipeline import HandPosePipeline

if sys.argv[1] == "fphab":
    from kpfusion_ros.data.fphab import FPHAB
    reader, step = FPHAB(sys.argv[2]), 1
else:
    from kpfusion_ros.data.synthetic import SyntheticConfig, SyntheticSequences
    reader = SyntheticSequences([int(s) for s in sys.argv[2].split(",")], num_frames=int(sys.argv[3]),
                                config=SyntheticConfig(width=320, height=240))
    step = 2
pc = pipeline_config(NodeConfig())
pipe = HandPosePipeline(replace(pc, model_path=os.environ.get("MODEL") or pc.model_path))
offs = probe_offsets(30.0)
rows = []  # (seen, mpjpe, kept share)
for _, idx in frame_order(reader):
    for i in idx[::step]:
        f = reader[i]
        gj, gc, sides = _labelled(f)
        if not len(gj):
            continue
        depth = np.asarray(f.depth, np.float32)
        dz = label_depth_offsets(gj, depth, f.cam)
        seen = seen_from_offsets(dz)
        left = np.array([s == "left" for s in sides])
        cs = np.concatenate([gc] + [gc + o for o in offs])
        j = pipe.estimate(f.color, depth, f.cam, cs, np.tile(left, 7))[0].reshape(7, len(gj), 21, 3) * 1000.0
        for h in range(len(gj)):
            e = float(np.linalg.norm(j[0, h] - gj[h], axis=-1).mean())
            kept = float(np.mean([(j[k + 1, h].mean(0) - gc[h]) @ (o / 30.0) / 30.0 for k, o in enumerate(offs)]))
            rows.append((int(seen[h]), e, kept))
r = np.array(rows)
print(f"{sys.argv[1]}: {len(r)} hands ({pipe.model_description})")
for lo, hi in ((0, 3), (4, 6), (7, 9), (10, 13), (14, 21)):
    m = (r[:, 0] >= lo) & (r[:, 0] <= hi)
    if m.any():
        print(f"  seen {lo:2d}-{hi:2d}: {int(m.sum()):4d} hands, GT-crop MPJPE {r[m, 1].mean():5.1f} mm, kept share {r[m, 2].mean():.2f}")
hid = r[:, 0] <= 6
if hid.any():
    print(f"  seen  0- 6: {int(hid.sum()):4d} hands, GT-crop MPJPE {r[hid, 1].mean():5.1f} mm (pooled)")
print(f"  all      : {len(r):4d} hands, GT-crop MPJPE {r[:, 1].mean():5.1f} mm")
