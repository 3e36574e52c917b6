"""A linear probe on the pose network's backbone features for a hand's side (README.md beside this file).

``log``: every labelled hand (>= 5 visible joints) of a rendered stream (``render_batch`` SEED, 320x240) or
of the F-PHAB sample, cropped at its GT joint mean as it is and mirrored; per crop the spatial mean and max of
the depth and RGB backbones' feature maps, to an .npz (features, label "the crop shows a right hand", hand's
side, which crop).
``fit``: the logistic regression of README.md on one log, C by 5-fold log-loss; ``report`` its accuracy on
other logs (the as-it-is crops).

    python probe.py log --seed 501 --frames 600 train.npz
    python probe.py log --seed 401 --frames 150 s401.npz ; python probe.py log --seed 301 --frames 150 s301.npz
    python probe.py fit train.npz probeA.npz ; python probe.py fit --variant XB train.npz probeB.npz
    python probe.py report probeA.npz s401.npz s301.npz   # the variant with the lower CV log-loss
    python probe.py log --fphab ~/.cache/kpfusion_ros/data/fphab fphab.npz   # after the choice
"""
from __future__ import annotations

import argparse
import json
import sys

import numpy as np


def _hands(args):
    import torch
    from tqdm import tqdm

    if args.fphab:
        from kpfusion_ros.data.fphab import FPHAB

        ds = FPHAB(args.fphab)
        for i in tqdm(range(len(ds)), desc="frames", unit="frame"):
            f = ds[i]
            yield torch.from_numpy(np.asarray(f.color)), torch.from_numpy(np.asarray(f.depth, np.float32)), \
                np.asarray(f.cam, np.float64), [(np.asarray(f.joints_mm[0], np.float64), f.handedness[0] == "right")]
        return
    from kpfusion_ros.data.synthetic import SyntheticConfig
    from kpfusion_ros.data.synthetic.generator import render_batch

    syn = SyntheticConfig(width=320, height=240)
    for s in tqdm(range(0, args.frames, 4), desc="frames", unit="batch"):
        fb = render_batch(args.seed, range(s, min(s + 4, args.frames)), syn)
        for b in range(fb.color.shape[0]):
            yield fb.color[b], fb.depth[b], fb.cam[b].double().numpy(), [
                (fb.joints_mm[b, h].double().numpy(), bool(fb.is_right[b, h]))
                for h in np.nonzero(fb.hand_valid[b].numpy())[0]]


def features(model, crops):
    """Variant A, (N, 4C): spatial mean and max of the depth and RGB backbones' feature maps; variant B, (N, 32C):
    each map averaged over a 4x4 grid of cells (where on the crop a feature fires)."""
    import torch
    import torch.nn.functional as F

    _, f_d = model.backbone_d(crops.depth)
    _, f_rgb = model.backbone_rgb(crops.rgb)
    a = torch.cat([torch.cat([f.flatten(2).mean(-1), f.flatten(2).amax(-1)], 1) for f in (f_d, f_rgb)], 1)
    b = torch.cat([F.adaptive_avg_pool2d(f, 4).flatten(1) for f in (f_d, f_rgb)], 1)
    return a, b


def log(args) -> None:
    import torch

    from kpfusion_ros.pipeline import load_model
    from kpfusion_ros.preprocessing import CropConfig, crop_hands

    torch.set_num_threads(args.threads)
    model, mcfg, _ = load_model(args.model, torch.device("cpu"))
    cc = CropConfig.for_model(mcfg)
    X, XB, y, right, mirrored = [], [], [], [], []
    with torch.no_grad():
        for color, depth, cam, hands in _hands(args):
            for gt, is_right in hands:
                c = np.repeat(gt.mean(0)[None], 2, 0)
                crops = crop_hands(color, depth, c, cam, cc, generator=torch.Generator().manual_seed(0),
                                   mirror=np.array([False, True]), color_order="rgb")
                if not bool(crops.valid.all()):
                    continue
                a, b = features(model, crops)
                X.append(a.numpy())
                XB.append(b.numpy())
                y += [is_right, not is_right]
                right += [is_right, is_right]
                mirrored += [False, True]
    np.savez(args.out, X=np.concatenate(X).astype(np.float32), XB=np.concatenate(XB).astype(np.float32), y=np.array(y), right=np.array(right),
             mirrored=np.array(mirrored), meta=json.dumps({"seed": args.seed, "frames": args.frames,
                                                          "fphab": bool(args.fphab), "model": args.model}))


def _train(X, y, lam, iters=300):
    """L2 logistic regression (weights w, bias b) by Newton's method on standardised X."""
    n, d = X.shape
    A = np.hstack([X, np.ones((n, 1))])
    w = np.zeros(d + 1)
    reg = np.full(d + 1, lam)
    reg[-1] = 0.0
    for _ in range(iters):
        p = 1.0 / (1.0 + np.exp(-A @ w))
        g = A.T @ (p - y) / n + reg * w
        H = (A * (p * (1 - p))[:, None]).T @ A / n + np.diag(reg) + 1e-9 * np.eye(d + 1)
        step = np.linalg.solve(H, g)
        w -= step
        if np.abs(step).max() < 1e-7:
            break
    return w


def _logloss(A, w, y):
    z = A @ w
    return float(np.mean(np.logaddexp(0.0, -np.where(y, 1.0, -1.0) * z)))


def fit(args) -> None:
    d = np.load(args.log)
    X, y = d[args.variant].astype(np.float64), d["y"].astype(float)
    mu, sd = X.mean(0), X.std(0) + 1e-6
    Z = (X - mu) / sd
    hands = np.arange(len(y)) // 2  # the two crops of a hand stay in one fold
    folds = hands % 5
    res = {}
    for C in (0.001, 0.01, 0.1, 1.0):
        ll = []
        for k in range(5):
            tr, te = folds != k, folds == k
            w = _train(Z[tr], y[tr], 1.0 / (C * tr.sum()))
            ll.append(_logloss(np.hstack([Z[te], np.ones((te.sum(), 1))]), w, y[te]))
        res[C] = float(np.mean(ll))
    C = min(res, key=res.get)
    w = _train(Z, y, 1.0 / (C * len(y)))
    np.savez(args.out, w=w, mu=mu, sd=sd, C=C, variant=args.variant)
    print(json.dumps({"variant": args.variant, "cv_log_loss": {str(k): v for k, v in res.items()}, "C": C, "train_crops": int(len(y)),
                      "train_hands": int(len(y) // 2), "right_hands": int(d["right"][::2].sum())}, indent=1))


def report(args) -> None:
    p = np.load(args.probe)
    out = {}
    for path in args.logs:
        d = np.load(path)
        A = np.hstack([(d[str(p["variant"])] - p["mu"]) / p["sd"], np.ones((len(d["y"]), 1))])
        z = A @ p["w"]
        asis = ~d["mirrored"]
        R = d["right"][asis]
        zr = z[asis]
        prob = 1.0 / (1.0 + np.exp(-zr))
        conf = np.maximum(prob, 1 - prob)
        ok = (zr > 0) == R
        out[path] = {"hands": int(asis.sum()), "right_hands": int(R.sum()),
                     "accuracy": float(ok.mean()),
                     "accuracy_right_hands": float(ok[R].mean()) if R.any() else None,
                     "accuracy_left_hands": float(ok[~R].mean()) if (~R).any() else None,
                     "log_loss": _logloss(A[asis], p["w"], R),
                     "accuracy_all_crops": float(((z > 0) == d["y"]).mean()),
                     "by_confidence": {f"{t:.2f}": {"share": float((conf >= t).mean()),
                                                    "accuracy": float(ok[conf >= t].mean()) if (conf >= t).any() else None}
                                       for t in (0.6, 0.75, 0.9)}}
    print(json.dumps(out, indent=1))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("log")
    a.add_argument("out")
    a.add_argument("--seed", type=int, default=0)
    a.add_argument("--frames", type=int, default=150)
    a.add_argument("--fphab", default="", help="the F-PHAB sample's root instead of a rendered stream")
    a.add_argument("--threads", type=int, default=1)
    a.add_argument("--model", default="models/kpfusion_lite.pt")
    f = sub.add_parser("fit")
    f.add_argument("log")
    f.add_argument("out")
    f.add_argument("--variant", choices=("X", "XB"), default="X", help="X: mean and max (A); XB: 4x4 grid (B)")
    r = sub.add_parser("report")
    r.add_argument("probe")
    r.add_argument("logs", nargs="+")
    args = ap.parse_args(argv)
    {"log": log, "fit": fit, "report": report}[args.cmd](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
