"""Evaluation metrics on constructed predictions, and both protocols on a tiny model."""

import math

import numpy as np
import torch

from kpfusion_ros.evaluation import EvalConfig, auc_pck, evaluate_model, mpjpe, pa_mpjpe, summarize
from kpfusion_ros.model import build_model, preset


def test_mpjpe_hand_computed():
    gt = torch.zeros(2, 21, 3)
    pred = gt.clone()
    pred[0, :, 0] = 3.0
    pred[1, :, 2] = 4.0
    assert math.isclose(mpjpe(pred, gt), 3.5, rel_tol=1e-6)


def test_pa_mpjpe_removes_similarity():
    g = torch.randn(3, 21, 3, generator=torch.Generator().manual_seed(0)) * 30
    th = 0.7
    R = torch.tensor([[math.cos(th), -math.sin(th), 0], [math.sin(th), math.cos(th), 0], [0, 0, 1.0]])
    pred = 1.3 * g @ R.T + torch.tensor([5.0, -2.0, 40.0])
    assert pa_mpjpe(pred, g) < 1e-3
    assert mpjpe(pred, g) > 1.0


def test_auc_values():
    auc, pck = auc_pck(np.zeros(10))
    assert math.isclose(auc, 1.0) and pck[0] == 1.0
    auc, _ = auc_pck(np.full(10, 100.0))
    assert auc == 0.0
    s = summarize(torch.zeros(1, 21, 3), torch.zeros(1, 21, 3))
    assert s["mpjpe_mm"] == 0.0 and len(s["per_joint_mpjpe_mm"]) == 21


def test_both_protocols_run():
    cfg = preset("official_1stage", crop_size=64, num_points=64, trunk_widths=(8, 8, 16, 16), feature_dim=16,
                 fa_samples=8, tr_ffn=16, cross_ffn=16)
    torch.manual_seed(0)
    r = evaluate_model(build_model(cfg), cfg, EvalConfig(num_frames=4, width=160, height=120, batch_frames=2))
    g = r["gt_crops"]
    assert set(g["poses"]) == {"initial", "b1.init", "b1.final"} and g["final"]["count"] > 0
    L = r["localizer"]
    assert L["matched"] + L["missed"] == L["gt_hands"] == g["final"]["count"]


def test_evaluation_frames_can_hold_items_in_front_of_the_hands():
    """EvalConfig.front_object reaches the rendered frames (0: the split of before); the same hands are scored."""
    from kpfusion_ros.data.synthetic import SyntheticConfig, render_batch
    from kpfusion_ros.data.synthetic.scene import OBJECT_INSTANCE

    assert EvalConfig().synthetic() == SyntheticConfig(width=640, height=480)
    plain, front = EvalConfig(width=160, height=120), EvalConfig(width=160, height=120, front_object=1.0)
    assert front.synthetic().scene.p_front_object == 1.0
    a = render_batch(plain.seed, range(4), plain.synthetic())
    b = render_batch(front.seed, range(4), front.synthetic())
    assert torch.equal(a.joints_mm, b.joints_mm)
    cover = [(fa.instance != OBJECT_INSTANCE).sum() - (fb.instance != OBJECT_INSTANCE).sum()
             for fa, fb in zip(a.frames(), b.frames())]
    assert sum(int(c) > 0 for c in cover) >= 3  # the items cover pixels in most frames


def test_localizer_protocol_refinement_recentres_on_the_predicted_joint_mean():
    """refine_iterations=1: the second pass crops at the first pass's predicted joint mean (camera mm)."""
    from kpfusion_ros.evaluation.evaluate import evaluate_localizer

    cfg = preset("official_1stage", crop_size=64, num_points=64, trunk_widths=(8, 8, 16, 16), feature_dim=16,
                 fa_samples=8, tr_ffn=16, cross_ffn=16)
    torch.manual_seed(0)
    net = build_model(cfg)
    calls = []

    class Recorder(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.net = net

        def forward(self, rgb, depth, pcl, center, M, cube, cam):
            out = self.net(rgb, depth, pcl, center, M, cube, cam)
            calls.append((center.clone(), out.final.clone(), cube.clone()))
            return out

    ecfg = EvalConfig(num_frames=4, width=160, height=120, batch_frames=2)
    r0 = evaluate_localizer(Recorder(), cfg, ecfg)
    n0 = len(calls)
    calls.clear()
    # min_refine_confidence 0: every pose is re-cropped (the random network's confidence is low)
    r1 = evaluate_localizer(Recorder(), cfg, EvalConfig(num_frames=4, width=160, height=120, batch_frames=2,
                                                        refine_iterations=1, min_refine_confidence=0.0))
    assert n0 > 0 and len(calls) == 2 * n0  # two passes per frame with matched hands
    assert r1["refine_iterations"] == 1 and r0["refine_iterations"] == 0
    assert r1["matched"] == r0["matched"]  # matching is on the localiser's centres, before refinement
    from kpfusion_ros.geometry import xyz_nl_to_mm

    for (c1, final, cube), (c2, _, _) in zip(calls[0::2], calls[1::2]):
        # the node's crops are never mirrored: camera mm = xyz_nl · cube/2 + centre
        expected = xyz_nl_to_mm(final.double(), c1.double(), cube.double()).mean(dim=1)
        assert torch.allclose(c2.double(), expected, atol=1e-2), (c2, expected)
        assert (c2.double() - c1.double()).abs().max() > 1e-3  # it really moved (by the prediction)

    # the node's confidence gate: poses less confident than min_refine_confidence keep their crop
    calls.clear()
    evaluate_localizer(Recorder(), cfg, EvalConfig(num_frames=4, width=160, height=120, batch_frames=2,
                                                   refine_iterations=1, min_refine_confidence=1.0))
    assert len(calls) == 2 * n0
    for (c1, _, _), (c2, _, _) in zip(calls[0::2], calls[1::2]):
        assert torch.equal(c1, c2)
