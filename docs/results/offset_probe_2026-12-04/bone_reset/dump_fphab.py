import numpy as np, sys, os
from kpfusion_ros.data.fphab import FPHAB
from kpfusion_ros.evaluation.real_frames import _labelled, frame_order
from kpfusion_ros.node_config import NodeConfig, pipeline_config
from kpfusion_ros.pipeline import HandPosePipeline
from dataclasses import replace
pc = pipeline_config(NodeConfig())
if len(sys.argv) > 2: pc = replace(pc, model_path=sys.argv[2])
p = HandPosePipeline(pc)
r = FPHAB(os.path.expanduser("~/.cache/kpfusion_ros/data/fphab"))
P, G = [], []
for s, idx in frame_order(r):
    for i in idx:
        f = r[i]; gj, gc, sides = _labelled(f)
        j, *_ = p.estimate(f.color, np.asarray(f.depth, np.float32), f.cam, gc)
        P.append(j[0]*1000); G.append(gj[0])
np.savez(sys.argv[1], pred=np.array(P), gt=np.array(G))
