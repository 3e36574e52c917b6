"""Training the hand verifier on synthetic full frames (:mod:`.training_data`), and measuring it.

Samples. Per frame, the centres the verifier sees at run time, labelled by their 3D distance d to
the nearest GT joint mean (:class:`SampleConfig`):

* every stage-1 proposal of the localiser (:meth:`~kpfusion_ros.localization.HandLocalizer.proposals`:
  blob extremities and depth minima: hands, forearms, cups, plates, bottles, table edges, walls);
* the same proposals moved by the current model's first pass (what the second pass sees; cascade
  training, recomputed every step with the weights of that step);
* jittered positives around every GT hand (Gaussian, and a few far ones for the offset head);
* hard negatives from the instance masks: points on the forearm/arm far from the hand's joint
  mean, on held objects and anywhere in the frame, and (``near_per_hand``) on whatever surface lies
  150–500 mm from a hand.

Targets: hand = 1 for d ≤ ``pos_mm``, 0 for d > ``neg_mm`` (ignored between); side (right = 1)
for d ≤ ``neg_mm``; offset (GT joint mean − centre) for d ≤ ``offset_mm``. Every sample is
mirrored left ↔ right with probability ½ (which makes it the other hand: side flipped, x offset
negated), and gets random holes and depth noise (sim-to-real robustness). Procedural clutter
(:mod:`.clutter`) adds edge-rich negatives and busy backgrounds behind a share of the patches
(``clutter_negatives``, ``p_busy_background``): without them the verifier took "many depth edges"
for "hand" and scored a real cluttered worktop ≈ 1. Smooth convex blobs (``blob_negatives``) are the
opposite negatives: without them verifier v4 gave a hand-sized ellipsoid in an empty frame p(hand) 0.90.

:func:`evaluate_localizer` runs the whole localiser on frames and reports recall, false hands
per frame, centre error, the AUROC of the score (true vs false detections) and handedness
accuracy; :func:`train` writes the weights with :func:`~.verifier.save_verifier`.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, replace
from typing import Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from .clutter import clutter_patches, composite_behind, smooth_blob_patches
from .patches import depth_pyramid, flip_patches, verifier_patches
from .verifier import HandVerifier, VerifierSpec

__all__ = ["SampleConfig", "TrainConfig", "label_centres", "frame_samples", "train", "evaluate_localizer"]


@dataclass(frozen=True)
class SampleConfig:
    pos_mm: float = 60.0
    neg_mm: float = 100.0
    offset_mm: float = 130.0
    jitter_sigma_mm: float = 20.0
    jitter_per_hand: int = 3
    far_per_hand: int = 2
    far_mm: tuple[float, float] = (40.0, 120.0)
    arm_per_hand: int = 1
    object_per_frame: int = 1
    random_per_frame: int = 2
    surface_mm: float = 17.0
    #: augmentation: probability of holes in a patch, their largest fraction, depth noise (normalised units)
    p_holes: float = 0.5
    max_hole_fraction: float = 0.15
    depth_noise: float = 0.01
    #: procedural clutter (:mod:`.clutter`): negatives added per batch, as a fraction of its patches, and the
    #: probability that a patch's background is filled with clutter behind it (0 and 0: the renderer's alone)
    clutter_negatives: float = 0.15
    p_busy_background: float = 0.3
    #: smooth convex blobs floating in front of nothing or a wall (:func:`.clutter.smooth_blob_patches`),
    #: negatives added per batch as a fraction of its patches (0: none, as up to verifier v4), drawn from a
    #: bank of ``blob_bank`` ray-cast once per run (they cost ~15 ms each; mirroring, holes and noise are
    #: still drawn afresh per use)
    blob_negatives: float = 0.05
    blob_bank: int = 2048
    #: surface points beside a hand: per GT hand, this many visible pixels not of that hand whose 3D point
    #: (``surface_mm`` behind the surface) lies ``near_mm`` from its joint mean: the cups, jars and table edges
    #: a hand reaches past, seen with its arm in the context patch. On rendered default scenes (seed 23) over half
    #: of the shipped v5 localiser's false hands lie 150–500 mm from a hand (docs/results/verifier_near_2026-12-06/).
    #: 0: none (up to verifier v5; the sampling stream is then the one of before).
    near_per_hand: int = 0
    near_mm: tuple[float, float] = (150.0, 500.0)


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 12
    frames_per_step: int = 12
    lr: float = 2e-3
    weight_decay: float = 1e-4
    w_hand: float = 1.0
    w_right: float = 0.5
    w_offset: float = 2.0
    seed: int = 0
    #: Start from the weights of this verifier file (a fine-tune; its spec must be ``spec``); None: from scratch.
    init_weights: Optional[str] = None
    #: Stop after this many minutes of training (None: run every epoch); the weights of the last step are kept.
    time_budget_min: Optional[float] = None
    spec: VerifierSpec = VerifierSpec()
    samples: SampleConfig = SampleConfig()


def label_centres(centres: np.ndarray, gt_centres: np.ndarray, gt_right: np.ndarray, sc: SampleConfig):
    """Targets of K centres: (hand K: 1/0/−1 ignore, right K: 1/0/−1, offset K×3 mm, offset mask K, distance K)."""
    K = len(centres)
    if len(gt_centres) == 0:
        return (np.zeros(K), np.full(K, -1.0), np.zeros((K, 3)), np.zeros(K, bool), np.full(K, np.inf))
    D = np.linalg.norm(centres[:, None, :] - gt_centres[None, :, :], axis=-1)
    j = D.argmin(axis=1)
    d = D[np.arange(K), j]
    hand = np.where(d <= sc.pos_mm, 1.0, np.where(d > sc.neg_mm, 0.0, -1.0))
    right = np.where(d <= sc.neg_mm, gt_right[j].astype(np.float64), -1.0)
    off = gt_centres[j] - centres
    return hand, right, off, d <= sc.offset_mm, d


def _pixels_to_points(vv, uu, depth, cam, surface_mm):
    fx, fy, cx, cy = cam
    z = depth[vv, uu].astype(np.float64) + surface_mm
    return np.stack([(uu - cx) * z / fx, (vv - cy) * z / fy, z], axis=1)


def frame_samples(frame: dict, proposals: np.ndarray, rng: np.random.Generator, sc: SampleConfig) -> np.ndarray:
    """Centres (K×3 mm) to learn from in one frame: proposals, jittered positives, hard negatives."""
    out = [proposals.reshape(-1, 3)]
    g = frame["centre_mm"].reshape(-1, 3)
    for c in g:
        out.append(c + rng.normal(0.0, sc.jitter_sigma_mm, (sc.jitter_per_hand, 3)))
        dirs = rng.normal(size=(sc.far_per_hand, 3))
        dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
        out.append(c + dirs * rng.uniform(*sc.far_mm, (sc.far_per_hand, 1)))
    depth, inst, cam = frame["depth"], frame["instance"], frame["cam"]
    valid = depth > 0

    def pick(mask, n):
        vv, uu = np.nonzero(mask)
        if len(vv) == 0 or n <= 0:
            return np.zeros((0, 3))
        k = rng.integers(0, len(vv), n)
        return _pixels_to_points(vv[k], uu[k], depth, cam, sc.surface_mm)

    for h in range(len(g)):
        arm = pick(valid & (inst == h), 8 * sc.arm_per_hand)
        far = np.linalg.norm(arm - g[h], axis=1) > sc.neg_mm + 30.0
        out.append(arm[far][: sc.arm_per_hand])
    out.append(pick(valid & (inst == 2), sc.object_per_frame))
    out.append(pick(valid, sc.random_per_frame))
    if sc.near_per_hand > 0 and len(g):
        vv, uu = np.nonzero(valid)
        pts = _pixels_to_points(vv, uu, depth, cam, sc.surface_mm)
        owner = inst[vv, uu]
        for h in range(len(g)):
            d = np.linalg.norm(pts - g[h], axis=1)
            ok = np.nonzero((d >= sc.near_mm[0]) & (d <= sc.near_mm[1]) & (owner != h))[0]
            if len(ok):
                out.append(pts[ok[rng.integers(0, len(ok), sc.near_per_hand)]])
    return np.concatenate(out).astype(np.float64)


def _augment(patches: torch.Tensor, gen: torch.Generator, sc: SampleConfig) -> torch.Tensor:
    """Random holes and depth noise, drawn independently for each (depth, validity) pair of channels."""
    K, C, S, _ = patches.shape
    x = patches.clone()
    for d, v in ((k, k + 1) for k in range(0, C, 2)):
        holes = (torch.rand(K, 1, 1, generator=gen) < sc.p_holes) & (
            torch.rand(K, S, S, generator=gen) < torch.rand(K, 1, 1, generator=gen) * sc.max_hole_fraction)
        holes &= x[:, v] > 0
        x[:, d] = torch.where(holes, torch.ones_like(x[:, d]), x[:, d])
        x[:, v] = torch.where(holes, torch.zeros_like(x[:, v]), x[:, v])
        fg = x[:, d] < 1.0
        noise = torch.randn(K, S, S, generator=gen) * (torch.rand(K, 1, 1, generator=gen) * sc.depth_noise)
        x[:, d] = torch.where(fg, (x[:, d] + noise).clamp(-1.0, 1.0), x[:, d])
    return x


def _losses(model: HandVerifier, raw: torch.Tensor, hand, right, off, off_ok, cfg: TrainConfig) -> dict:
    half = 0.5 * model.spec.cube_mm
    m_h = hand >= 0
    l_hand = F.binary_cross_entropy_with_logits(raw[m_h, 0], hand[m_h]) if m_h.any() else raw.sum() * 0
    m_r = right >= 0
    l_right = F.binary_cross_entropy_with_logits(raw[m_r, 1], right[m_r]) if m_r.any() else raw.sum() * 0
    l_off = (F.smooth_l1_loss(raw[off_ok, 2:5], off[off_ok] / half, beta=0.05) if off_ok.any() else raw.sum() * 0)
    total = cfg.w_hand * l_hand + cfg.w_right * l_right + cfg.w_offset * l_off
    return {"total": total, "hand": l_hand.detach(), "right": l_right.detach(), "offset": l_off.detach()}


def _step_batch(model, frames, props, idx, rng, gen, cfg: TrainConfig, localizer_cfg, blobs=None):
    """Patches and targets of the frames ``idx`` (cascade samples from the current model); ``blobs``: the
    run's bank of smooth-blob negatives (None: none)."""
    from kpfusion_ros.localization import _clip_norm

    sc = cfg.samples
    P, H, R, O, M = [], [], [], [], []
    model.eval()
    for i in idx:
        fr = frames[i]
        pyr = depth_pyramid(fr["depth"], 1.0, 10000.0)
        cents = frame_samples(fr, props[i], rng, sc)  # the proposals first, as given
        x = verifier_patches(fr["depth"], fr["cam"], cents, model.spec, pyramid=pyr)
        n = len(props[i])
        if n:
            with torch.no_grad():
                o = model.decode(model(x[:n]))  # the first pass on the proposals' own patches
            moved = props[i] + _clip_norm(o.offset_mm.double().numpy(), localizer_cfg.max_offset_mm)
            cents = np.concatenate([cents, moved])
            x = torch.cat([x, verifier_patches(fr["depth"], fr["cam"], moved, model.spec, pyramid=pyr)])
        hand, right, off, ok, _ = label_centres(cents, fr["centre_mm"].reshape(-1, 3), fr["is_right"], sc)
        P.append(x)
        H.append(hand), R.append(right), O.append(off), M.append(ok)
    model.train()
    x = torch.cat(P)
    hand = torch.from_numpy(np.concatenate(H)).float()
    right = torch.from_numpy(np.concatenate(R)).float()
    off = torch.from_numpy(np.concatenate(O)).float()
    ok = torch.from_numpy(np.concatenate(M))
    if sc.p_busy_background > 0:
        busy = torch.rand(len(x), generator=gen) < sc.p_busy_background
        if busy.any():
            x[busy] = composite_behind(x[busy], gen)
    n_real = len(x)
    negatives = []
    n_clutter = int(round(sc.clutter_negatives * n_real))
    if n_clutter > 0:
        negatives.append(clutter_patches(n_clutter, x.shape[-1], gen, pairs=x.shape[1] // 2))
    n_blob = int(round(sc.blob_negatives * n_real)) if blobs is not None and len(blobs) else 0
    if n_blob > 0:
        negatives.append(blobs[torch.randint(0, len(blobs), (n_blob,), generator=gen)])
    if negatives:
        x = torch.cat([x] + negatives)
        n_neg = len(x) - n_real
        hand = torch.cat([hand, torch.zeros(n_neg)])
        right = torch.cat([right, torch.full((n_neg,), -1.0)])
        off = torch.cat([off, torch.zeros(n_neg, 3)])
        ok = torch.cat([ok, torch.zeros(n_neg, dtype=torch.bool)])
    flip = torch.rand(len(x), generator=gen) < 0.5
    x = torch.where(flip.view(-1, 1, 1, 1), flip_patches(x), x)
    right = torch.where(flip & (right >= 0), 1.0 - right, right)
    off[:, 0] = torch.where(flip, -off[:, 0], off[:, 0])
    return _augment(x, gen, sc), hand, right, off, ok


def train(frames: Sequence[dict], cfg: TrainConfig = TrainConfig(), localizer_cfg=None,
          val_frames: Optional[Sequence[dict]] = None, progress: bool = True, log=print,
          checkpoint=None) -> tuple[HandVerifier, dict]:
    """Train a verifier on ``frames`` (:func:`~.training_data.load_shards`); returns (model, history).

    ``checkpoint(model, history)``, when given, is called after every epoch (and when the time budget ends
    training early), the model in eval mode."""
    from kpfusion_ros.localization import NO_VERIFIER, HandLocalizer, LocalizerConfig

    localizer_cfg = localizer_cfg or LocalizerConfig()
    prop_loc = HandLocalizer(replace(localizer_cfg, verifier_path=NO_VERIFIER))
    props = []
    it = frames
    if progress:
        from tqdm import tqdm
        it = tqdm(frames, desc="proposals", unit="frame", dynamic_ncols=True)
    for fr in it:
        pr = prop_loc.proposals(fr["depth"], fr["cam"])
        props.append(np.array([p.centre_mm for p in pr], dtype=np.float64).reshape(-1, 3))
    torch.manual_seed(cfg.seed)
    model = HandVerifier(cfg.spec)
    if cfg.init_weights:
        from .verifier import load_verifier

        start, _ = load_verifier(cfg.init_weights)
        if start.spec != cfg.spec:
            raise ValueError(f"init_weights {cfg.init_weights}: its spec {start.spec} is not the run's {cfg.spec}")
        model.load_state_dict(start.state_dict())
    gen = torch.Generator().manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    blobs = None
    if cfg.samples.blob_negatives > 0 and cfg.samples.blob_bank > 0:
        blobs = smooth_blob_patches(cfg.samples.blob_bank, cfg.spec, torch.Generator().manual_seed(cfg.seed + 1))
    steps_per_epoch = max(1, len(frames) // cfg.frames_per_step)
    total = cfg.epochs * steps_per_epoch
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=total, pct_start=0.1)
    history = {"epochs": [], "steps": total, "frames": len(frames)}
    step = 0
    t0 = time.time()
    for ep in range(cfg.epochs):
        order = rng.permutation(len(frames))
        sums = {"total": 0.0, "hand": 0.0, "right": 0.0, "offset": 0.0}
        n = 0
        bar = range(steps_per_epoch)
        if progress:
            from tqdm import tqdm
            bar = tqdm(bar, desc=f"epoch {ep + 1}/{cfg.epochs}", unit="step", dynamic_ncols=True)
        out_of_time = False
        for b in bar:
            if cfg.time_budget_min is not None and time.time() - t0 > 60.0 * cfg.time_budget_min:
                out_of_time = True
                break
            idx = order[b * cfg.frames_per_step:(b + 1) * cfg.frames_per_step]
            x, hand, right, off, ok = _step_batch(model, frames, props, idx, rng, gen, cfg, localizer_cfg, blobs)
            raw = model(x)
            ls = _losses(model, raw, hand, right, off, ok, cfg)
            opt.zero_grad(set_to_none=True)
            ls["total"].backward()
            opt.step()
            sched.step()
            step += 1
            for k in sums:
                sums[k] += float(ls[k].detach())
            n += 1
            if progress and hasattr(bar, "set_postfix"):
                bar.set_postfix(loss=f"{sums['total'] / n:.3f}", hand=f"{sums['hand'] / n:.3f}",
                                off=f"{sums['offset'] / n:.3f}")
        rec = {"epoch": ep + 1, **{k: v / max(n, 1) for k, v in sums.items()}, "minutes": (time.time() - t0) / 60}
        if val_frames is not None and (ep + 1 == cfg.epochs or (ep + 1) % 3 == 0):
            model.eval()
            rec["val"] = evaluate_localizer(val_frames, HandLocalizer(localizer_cfg, verifier=model))
            model.train()
        rec["steps_done"] = step
        history["epochs"].append(rec)
        if checkpoint is not None:
            model.eval()
            checkpoint(model, history)
            model.train()
        log(f"epoch {ep + 1}: " + ", ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}"
                                             for k, v in rec.items() if k != "val")
            + (f"; val {rec['val']}" if "val" in rec else ""))
        if out_of_time:
            history["stopped_early"] = f"time budget of {cfg.time_budget_min} min reached after {step} of {total} steps"
            break
    model.eval()
    history["train_minutes"] = (time.time() - t0) / 60
    history["config"] = asdict(cfg)
    return model, history


def evaluate_localizer(frames: Sequence[dict], localizer, match_mm: float = 80.0,
                       thresholds: Sequence[float] = ()) -> dict:
    """The localiser on frames (dicts with depth, cam, centre_mm, is_right): recall, false hands per frame,
    centre error (matched), AUROC of the score (matched vs unmatched detections, all scores ≥ 0 kept:
    ``min_score`` 0 for this), handedness accuracy (matched) and, per threshold, recall / FP per frame."""
    from kpfusion_ros.evaluation.metrics import auroc
    from kpfusion_ros.evaluation.matching import match_centres as match

    loc_all = type(localizer)(replace(localizer.config, min_score=0.0), verifier=localizer.verifier) \
        if localizer.verifier is not None else localizer
    n_gt = 0
    true_s, false_s, err, side_ok = [], [], [], []
    per = []
    for fr in frames:
        cands = loc_all.localize(fr["depth"], fr["cam"])
        gt = fr["centre_mm"].reshape(-1, 3)
        cc = np.array([c.centre_mm for c in cands]).reshape(-1, 3)
        pairs = match(gt, cc, match_mm)
        n_gt += len(gt)
        matched = {j: (i, e) for i, j, e in pairs}
        for j, c in enumerate(cands):
            if j in matched:
                i, e = matched[j]
                true_s.append(c.score)
                err.append(e)
                side_ok.append((c.p_right >= 0.5) == bool(fr["is_right"][i]))
            else:
                false_s.append(c.score)
        per.append((len(gt), [(c.score, j in matched) for j, c in enumerate(cands)]))
    cfg_min = localizer.config.min_score

    def at(th):
        found = sum(sum(1 for s, m in cs if m and s >= th) for _, cs in per)
        fp = sum(sum(1 for s, m in cs if not m and s >= th) for _, cs in per)
        return {"min_score": th, "recall": found / max(n_gt, 1), "fp_per_frame": fp / max(len(per), 1)}

    out = {"frames": len(per), "gt_hands": n_gt, **{k: v for k, v in at(cfg_min).items()},
           "centre_error_mm_median": float(np.median(err)) if err else float("nan"),
           "centre_error_mm_p90": float(np.percentile(err, 90)) if err else float("nan"),
           "auroc": auroc(true_s, false_s), "handedness_accuracy": float(np.mean(side_ok)) if side_ok else float("nan")}
    if thresholds:
        out["tradeoff"] = [at(t) for t in thresholds]
    return {k: (round(v, 4) if isinstance(v, float) and math.isfinite(v) else v) for k, v in out.items()}
