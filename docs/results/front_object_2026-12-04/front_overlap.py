"""How many front items overlap another object of the scene (a held object or one near a hand; spheres, cylinders,
mugs, boxes): 200 scenes of seed 11, points sampled inside each item.

    python -P docs/results/front_object_2026-12-04/front_overlap.py   # prints: items, items overlapping
"""
import numpy as np, torch
from kpfusion_ros.data.synthetic.scene import SceneConfig, sample_scene
from kpfusion_ros.data.synthetic.generator import frame_generator
from kpfusion_ros.data.synthetic.grasp import GraspObject
n=bad=0
for i in range(200):
    sc=sample_scene(frame_generator(11,i),320,240,SceneConfig(p_front_object=1.0),"mixed")
    base=sample_scene(frame_generator(11,i),320,240,SceneConfig(),"mixed")
    others=[o for o in sc.objects[:len(base.objects)] if o.kind in ("sphere","cylinder","mug","box")]
    for o in sc.objects[len(base.objects):]:
        n+=1
        g=torch.Generator().manual_seed(i)
        p=o.center+(torch.rand(3000,3,generator=g).numpy()*2-1)*float(np.max(o.size))*1.3
        inside=p[GraspObject(o.kind,o.center,o.R,o.size).sdf(p)<0]
        if any((GraspObject(q.kind,q.center,q.R,q.size).sdf(inside)<0).any() for q in others): bad+=1
print(n,bad)
