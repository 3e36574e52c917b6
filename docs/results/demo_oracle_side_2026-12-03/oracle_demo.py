"""The demo recording scored as `kpfusion-bag --score` does, but with each track's side taken, frame by frame, from
the nearest ground-truth hand: the ceiling that a perfect side estimate (and no side carried across an identity
switch) would give. Run from the repository root with the installed package: ``python -P
docs/results/demo_oracle_side_2026-12-03/oracle_demo.py [OUT]``."""
import sys
from pathlib import Path
import numpy as np
from kpfusion_ros.ros import bagio
from kpfusion_ros.demo.scoring import hand_arrays
from kpfusion_ros import pipeline as P
BAG = Path("data/demo/kpfusion_demo")
OUT = sys.argv[1] if len(sys.argv) > 1 else "/tmp/oracle_demo_out"
gt = bagio.read_stamped(str(BAG), "/ground_truth/hand_poses")
gts = {k / 1e9: [(np.nanmean(h[1], 0) * 1000, int(m.hands[i].handedness)) for i, h in enumerate(hand_arrays(m))] for k, m in gt.items()}
cur = {}
orig = P.HandPosePipeline.process
def process(self, rgb, depth, cam, stamp=None):
    k = min(gts, key=lambda s: abs(s - stamp)); cur["hands"] = gts[k]
    tr = self.tracker
    if not hasattr(tr, "_orig_h"):
        tr._orig_h = tr.handedness
        def h(t):
            if t is None or not cur["hands"]: return tr._orig_h(t)
            d = [np.linalg.norm(c - t.centre_mm) for c, _ in cur["hands"]]
            return (cur["hands"][int(np.argmin(d))][1], 1.0)
        tr.handedness = h
    return orig(self, rgb, depth, cam, stamp)
P.HandPosePipeline.process = process
import runpy
sys.argv = ["bag", str(BAG), OUT, "--device", "cpu", "--score", "--force", "--quiet"]
runpy.run_module("kpfusion_ros.tools.bag", run_name="__main__")
