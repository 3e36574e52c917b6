"""Direction of the node's centre error: published centre − labelled joint mean over found hands (node defaults).

    python -P docs/results/offset_probe_2026-12-04/centre_bias.py fphab   # a local copy of the F-PHAB sample
    python -P docs/results/offset_probe_2026-12-04/centre_bias.py syn     # rendered sequences 401, 402 (90 frames)
    (a second argument sets refine_iterations)
"""
import numpy as np, os, sys
from dataclasses import replace
from kpfusion_ros.evaluation.real_frames import _labelled, frame_order
from kpfusion_ros.evaluation.matching import match_centres
from kpfusion_ros.node_config import NodeConfig, pipeline_config
from kpfusion_ros.pipeline import HandPosePipeline
which = sys.argv[1]; ri = int(sys.argv[2]) if len(sys.argv) > 2 else None
if which == "fphab":
    from kpfusion_ros.data.fphab import FPHAB
    r = FPHAB(os.path.expanduser("~/.cache/kpfusion_ros/data/fphab"))
else:
    from kpfusion_ros.data.synthetic import SyntheticConfig, SyntheticSequences
    r = SyntheticSequences([401, 402], num_frames=90, config=SyntheticConfig(width=320, height=240))
pc = pipeline_config(NodeConfig())
pc = replace(pc, model_path=os.environ.get("MODEL") or pc.model_path)  # MODEL=weights.pt: other weights
if ri is not None: pc = replace(pc, refine_iterations=ri)
p = HandPosePipeline(pc)
D = []; Dl = []
for s, idx in frame_order(r):
    p.reset()
    for i in idx:
        f = r[i]; gj, gc, _ = _labelled(f)
        res = p.process(f.color, np.asarray(f.depth, np.float32), f.cam, stamp=float(f.stamp))
        cs = np.array([h.center_m * 1000 for h in res.hands]).reshape(-1, 3)
        for g, d, dist in match_centres(gc, cs, 80.0):
            D.append(cs[d] - gc[g])
D = np.array(D)
print(which, "refine", pc.refine_iterations, "found", len(D), "centre - GT mean: mean", D.mean(0).round(1), "median", np.median(D, 0).round(1), "|d| median", np.median(np.linalg.norm(D, axis=1)).round(1))
