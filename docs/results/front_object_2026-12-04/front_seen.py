"""Seen joints of directly rendered, GT-centred training crops without and with a front object on every hand
(SceneConfig.p_front_object 0 and 1; 40 frames of seed 21 at 320×240, mixed sensors), and how often an item fits:

    python -P docs/results/front_object_2026-12-04/front_seen.py > docs/results/front_object_2026-12-04/front_seen.txt
"""
import numpy as np

from kpfusion_ros.data.synthetic import SceneConfig, SyntheticConfig
from kpfusion_ros.preprocessing import CropConfig
from kpfusion_ros.training.data import render_training_crops

cc = CropConfig(num_points=64)
for p in (0.0, 1.0):
    out = render_training_crops(21, range(40), SyntheticConfig(width=320, height=240,
                                                               scene=SceneConfig(p_front_object=p)), cc, augment=False)
    s = out["seen"].numpy()
    print(f"p_front_object {p:g}: {len(s)} hands, seen joints median {np.median(s):g}, share with <= 6 seen "
          f"{(s <= 6).mean():.2f}, sensed share median {float(out['sensed'].median()):.2f}")

# how often an item fits (not cutting the forearm or another hand, not nearer than 150 mm): 300 scenes of seed 11
from kpfusion_ros.data.synthetic.generator import frame_generator  # noqa: E402
from kpfusion_ros.data.synthetic.scene import sample_scene  # noqa: E402

got, hands = {}, {}
for i in range(300):
    sc = sample_scene(frame_generator(11, i), 320, 240, SceneConfig(p_front_object=1.0), "mixed")
    base = sample_scene(frame_generator(11, i), 320, 240, SceneConfig(), "mixed")
    got[sc.view] = got.get(sc.view, 0) + len(sc.objects) - len(base.objects)
    hands[sc.view] = hands.get(sc.view, 0) + len(sc.hands)
print("items that fit, per view: " + ", ".join(f"{v} {got[v]}/{hands[v]}" for v in sorted(hands))
      + f"; all {sum(got.values())}/{sum(hands.values())}")
