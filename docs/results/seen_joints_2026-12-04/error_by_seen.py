"""GT-crop MPJPE and the offset probe's kept share per hand, binned by joints seen (real_frames.seen_from_offsets),
on rendered sequences (mixed sensors) and, with a local copy, on the F-PHAB sample.

    python -P docs/results/seen_joints_2026-12-04/error_by_seen.py syn 401,402,403,404,405,406 60
    python -P docs/results/seen_joints_2026-12-04/error_by_seen.py fphab ~/.cache/kpfusion_ros/data/fphab
    python -P docs/results/seen_joints_2026-12-04/error_by_seen.py front 2026 120
    MODEL=weights.pt python -P ...   # other weights than the shipped ones

``front SEED N``: N independent rendered frames (seed SEED, 320×240, mixed sensors) in which every hand may hold an
item up in front of itself (SceneConfig.p_front_object = 1; session 32), every frame used.

On rendered frames it also splits the hands by the share of their visible pixels that have a sensor depth
(preprocessing.sensed_share; session 31): below 0.2 the sensor did not see the hand (e.g. an Azure Kinect nearer
than 0.5 m). F-PHAB has no instance map, so no split there.
"""
import os
import sys
from dataclasses import replace

import numpy as np
import torch

from kpfusion_ros.evaluation.real_frames import _labelled, frame_order, label_depth_offsets, probe_offsets, seen_from_offsets
from kpfusion_ros.node_config import NodeConfig, pipeline_config
from kpfusion_ros.pipeline import HandPosePipeline
from kpfusion_ros.preprocessing import sensed_share

if sys.argv[1] == "fphab":
    from kpfusion_ros.data.fphab import FPHAB
    reader, step = FPHAB(sys.argv[2]), 1
elif sys.argv[1] == "front":
    from kpfusion_ros.data.synthetic import SceneConfig, SyntheticConfig, render_batch
    reader = render_batch(int(sys.argv[2]), range(int(sys.argv[3])), SyntheticConfig(
        width=320, height=240, scene=SceneConfig(p_front_object=1.0))).frames()
    step = 1
else:
    from kpfusion_ros.data.synthetic import SyntheticConfig, SyntheticSequences
    reader = SyntheticSequences([int(s) for s in sys.argv[2].split(",")], num_frames=int(sys.argv[3]),
                                config=SyntheticConfig(width=320, height=240))
    step = 2
pc = pipeline_config(NodeConfig())
pipe = HandPosePipeline(replace(pc, model_path=os.environ.get("MODEL") or pc.model_path))
offs = probe_offsets(30.0)
rows = []  # (seen, mpjpe, kept share, sensed share or nan)
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
        inst = getattr(f, "instance", None)
        sensed = np.full(len(gj), np.nan)
        if inst is not None and len(gj) == len(f.joints_mm):  # the labelled hands are the frame's hands 0..K-1
            masks = torch.from_numpy(np.stack([np.asarray(inst) == h for h in range(len(gj))]))
            sensed = sensed_share(torch.from_numpy(depth).expand(len(gj), *depth.shape), masks).numpy()
        for h in range(len(gj)):
            e = float(np.linalg.norm(j[0, h] - gj[h], axis=-1).mean())
            kept = float(np.mean([(j[k + 1, h].mean(0) - gc[h]) @ (o / 30.0) / 30.0 for k, o in enumerate(offs)]))
            rows.append((int(seen[h]), e, kept, float(sensed[h])))
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
if np.isfinite(r[:, 3]).all():
    low = r[:, 3] < 0.2
    print(f"  sensed < 0.2 (the sensor did not see the hand): {int(low.sum())} hands, of them {int((low & hid).sum())} "
          f"hidden" + (f", GT-crop MPJPE {r[low, 1].mean():5.1f} mm, kept share {r[low, 2].mean():.2f}" if low.any() else ""))
    for lo, hi in ((0, 3), (0, 6)):
        m = (r[:, 0] >= lo) & (r[:, 0] <= hi) & ~low
        if m.any():
            print(f"  seen {lo:2d}-{hi:2d}, sensed >= 0.2: {int(m.sum()):4d} hands, GT-crop MPJPE {r[m, 1].mean():5.1f} mm, "
                  f"kept share {r[m, 2].mean():.2f}")
