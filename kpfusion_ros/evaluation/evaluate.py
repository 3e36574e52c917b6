"""Evaluate a model on a synthetic split under two protocols.

* ``gt_crops`` (the paper's protocol, reference §3): every valid hand cropped at the mean of
  its GT joints, left hands mirrored, no augmentation — the exact training-data path with
  ``augment=False``.
* ``localizer`` (real use): :class:`~kpfusion_ros.localization.HandLocalizer` finds hand
  candidates in the full depth frame, the node's crop (``crop_hands`` without mirroring, as
  :class:`~kpfusion_ros.pipeline.HandPosePipeline` does: the node has no handedness) is run
  through the network, and every GT hand is matched to the nearest unused candidate centre
  (greedy by distance, ≤ ``match_mm``). Unmatched GT hands are misses (reported, not in the
  error means); unmatched candidates are false positives. With ``refine_iterations`` > 0 the
  hands are re-cropped at their predicted joint mean and run again, as the node does: the
  same confidence (:func:`~kpfusion_ros.pipeline.pose_confidence`) and the same re-centring
  rule (:func:`~kpfusion_ros.tracking.refine_centres` with ``min_refine_confidence``). There
  is no tracker here: every frame stands alone.

Errors are computed in the real camera frame in mm (predictions un-mirrored with
:func:`~kpfusion_ros.preprocessing.predictions_to_camera`) for every supervised pose
(``initial`` = the AWR pose of the first backbone map, then ``out.pose_names``). The split is
frames 0..num−1 of the synthetic stream ``seed`` (disjoint from training streams by seed).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from ..camera import CameraIntrinsics
from ..data.synthetic import SceneConfig, SyntheticConfig, render_batch
from ..localization import HandLocalizer, LocalizerConfig
from ..pipeline import PipelineConfig, pose_confidence
from ..preprocessing import CUBE_MM, CropConfig, crop_hands, predictions_to_camera
from ..tracking import TrackerConfig, refine_centres
from ..training.data import make_hand_batch
from .matching import MATCH_MM, match_centres
from .metrics import summarize

EVAL_SEED = 1_000_003  # training streams use small seeds (0, 1, …)


@dataclass
class EvalConfig:
    seed: int = EVAL_SEED
    num_frames: int = 200
    width: int = 640
    height: int = 480
    batch_frames: int = 8
    cube_mm: float = CUBE_MM
    device: str = "cpu"
    match_mm: float = MATCH_MM
    point_seed: int = 0
    clean: bool = False
    localizer: dict = field(default_factory=dict)  # LocalizerConfig overrides
    #: localizer protocol: re-crop around the predicted joint mean and run again this many times
    #: (the node's ``refine_iterations``; 0 = the localiser's centre only) ...
    refine_iterations: int = 0
    #: ... for the poses at least this confident (the node's ``min_refine_confidence``)
    min_refine_confidence: float = TrackerConfig.min_refine_confidence
    dataset: object = None  # a reader (DexYCBJson, DexYCBToolkit, HO3D); None = synthetic frames
    #: synthetic frames: per hand, the probability of a hand-held item in front of it (SceneConfig.p_front_object;
    #: 0 = the evaluation split of before). 1 gives the hands hidden by what they hold, as on F-PHAB.
    front_object: float = 0.0

    def synthetic(self) -> SyntheticConfig:
        return SyntheticConfig(width=self.width, height=self.height, clean=self.clean,
                               scene=SceneConfig(p_front_object=self.front_object))


def _collect(preds: dict, out, crops) -> str:
    """Append every supervised pose of ``out`` (camera mm) to ``preds`` by name; returns the last name."""
    name = "initial"
    for name, pose in [("initial", out.initial)] + list(zip(out.pose_names, out.poses)):
        m, _ = predictions_to_camera(pose.float(), crops)
        preds.setdefault(name, []).append((m * 1000.0).cpu())
    return name


def _iter_chunks(cfg: EvalConfig, progress: bool, desc: str):
    n = cfg.num_frames if cfg.dataset is None else min(cfg.num_frames, len(cfg.dataset))
    it = range(0, n, cfg.batch_frames)
    if progress:
        from tqdm import tqdm
        it = tqdm(it, desc=desc, unit="batch", dynamic_ncols=True)
    if cfg.dataset is not None:
        from kpfusion_ros.data.batching import frames_to_batch

        for s in it:
            yield frames_to_batch([cfg.dataset[i] for i in range(s, min(s + cfg.batch_frames, n))], cfg.device)
        return
    syn = cfg.synthetic()
    for s in it:
        yield render_batch(cfg.seed, range(s, min(s + cfg.batch_frames, cfg.num_frames)), syn, cfg.device)


def _result(preds: dict, gts: list, final_name: str, right: list, left_name: str, extra: dict) -> dict:
    """Summaries of every pose, of the final one, and of the final one per hand side (``left_name``)."""
    gt = torch.cat(gts) if gts else torch.zeros(0, 21, 3)
    res = {"poses": {n: summarize(torch.cat(p) if p else torch.zeros(0, 21, 3), gt) for n, p in preds.items()},
           "final_pose": final_name}
    res["final"] = {k: res["poses"][final_name][k] for k in ("count", "mpjpe_mm", "pa_mpjpe_mm", "auc_0_50")} \
        if final_name in res["poses"] else {}
    res.update(extra)
    if right:
        r = torch.cat(right).bool()
        fp = torch.cat(preds[final_name])
        res["final_by_hand"] = {side: summarize(fp[sel], gt[sel])["mpjpe_mm"]
                                for side, sel in (("right", r), (left_name, ~r))}
    return res


@torch.no_grad()
def evaluate_gt_crops(model, model_cfg, cfg: EvalConfig, progress: bool = False) -> dict:
    """Paper protocol (GT joint-mean centred crops)."""
    model.eval()
    dev = torch.device(cfg.device)
    crop_cfg = CropConfig.for_model(model_cfg, cube_mm=cfg.cube_mm)
    g = torch.Generator().manual_seed(cfg.point_seed)
    preds: dict[str, list] = {}
    gts, right = [], []
    final = "initial"
    for frames in _iter_chunks(cfg, progress, "eval gt-crops"):
        if not bool(frames.hand_valid.any()):
            continue
        hb = make_hand_batch(frames, crop_cfg, g, augment=False, cube_mm=cfg.cube_mm, device=dev)
        final = _collect(preds, model(*hb.inputs()), hb.crops)
        gts.append(hb.joints_mm.float().cpu())
        right.append(hb.is_right.cpu())
    return _result(preds, gts, final, right, "left_mirrored", {"protocol": "gt_crops"})


@torch.no_grad()
def evaluate_localizer(model, model_cfg, cfg: EvalConfig, progress: bool = False) -> dict:
    """Real-use protocol (full-frame localiser crops, matched to GT hands by centre distance)."""
    model.eval()
    dev = torch.device(cfg.device)
    crop_cfg = CropConfig.for_model(model_cfg, cube_mm=cfg.cube_mm)
    loc = HandLocalizer(LocalizerConfig(**cfg.localizer))
    g = torch.Generator().manual_seed(cfg.point_seed)
    preds: dict[str, list] = {}
    gts, right, centre_err = [], [], []
    n_gt = n_match = n_fp = n_det = 0
    final = "initial"
    for frames in _iter_chunks(cfg, progress, "eval localizer"):
        depth_np = frames.depth.cpu().numpy().astype(np.float32)
        cams = frames.cam.double().cpu().numpy()
        for b in range(depth_np.shape[0]):
            hv = frames.hand_valid[b].cpu().numpy()
            gt_j = frames.joints_mm[b][torch.from_numpy(hv).to(frames.joints_mm.device)].float().cpu()
            gt_c = gt_j.mean(1).numpy()
            n_gt += len(gt_c)
            cam = CameraIntrinsics.of(cams[b])
            cands = loc.localize(depth_np[b], cam)
            n_det += len(cands)
            if not cands:
                continue
            cc = np.stack([c.centre_mm for c in cands]).astype(np.float64)
            pairs = match_centres(gt_c, cc, cfg.match_mm)
            n_fp += len(cc) - len(pairs)
            if not pairs:
                continue
            n_match += len(pairs)
            gi = [p[0] for p in pairs]
            ci = [p[1] for p in pairs]
            centres = cc[ci]
            for it in range(1 + max(0, int(cfg.refine_iterations))):
                batch = crop_hands(frames.color[b], frames.depth[b], centres, cam, crop_cfg, generator=g,
                                   color_order="rgb", device=dev)
                out = model(*batch.network_inputs())
                if it < cfg.refine_iterations:  # as HandPosePipeline: re-centre on the predicted joint mean
                    fin, _ = predictions_to_camera(out.final.float(), batch)
                    _, conf = pose_confidence(out, batch, PipelineConfig.confidence_scale_mm)
                    centres = refine_centres(centres, fin.double().cpu().numpy() * 1000.0, conf.cpu().numpy(),
                                             cfg.min_refine_confidence)
            final = _collect(preds, out, batch)
            gts.append(gt_j[gi])
            right.append(frames.is_right[b].cpu()[torch.from_numpy(hv)][gi])
            centre_err.append(np.array([p[2] for p in pairs]))
    extra = {"protocol": "localizer", "refine_iterations": int(cfg.refine_iterations),
             "gt_hands": n_gt, "matched": n_match, "missed": n_gt - n_match,
             "detections": n_det, "false_positives": n_fp, "match_mm": cfg.match_mm,
             "miss_rate": (n_gt - n_match) / max(n_gt, 1),
             "centre_error_mm": float(np.concatenate(centre_err).mean()) if centre_err else float("nan")}
    return _result(preds, gts, final, right, "left_unmirrored", extra)


def evaluate_model(model, model_cfg, cfg: EvalConfig, protocols=("gt_crops", "localizer"),
                   progress: bool = False) -> dict:
    conf = asdict(cfg)
    if cfg.dataset is not None:  # record which frames, not the reader object
        conf["dataset"] = f"{type(cfg.dataset).__name__}({getattr(cfg.dataset, 'root', '')}), {len(cfg.dataset)} frames"
    out = {"eval_config": conf}
    if "gt_crops" in protocols:
        out["gt_crops"] = evaluate_gt_crops(model, model_cfg, cfg, progress)
    if "localizer" in protocols:
        out["localizer"] = evaluate_localizer(model, model_cfg, cfg, progress)
    return out


def markdown_table(results: dict, name: str = "model") -> str:
    """One Markdown table: rows = protocol × pose, columns = MPJPE / PA-MPJPE / AUC / count."""
    lines = [f"| {name} | protocol | pose | MPJPE (mm) | PA-MPJPE (mm) | AUC 0-50 | hands |",
             "|---|---|---|---:|---:|---:|---:|"]
    for proto in ("gt_crops", "localizer"):
        if proto not in results:
            continue
        for pose, s in results[proto]["poses"].items():
            lines.append(f"| {name} | {proto} | {pose} | {s['mpjpe_mm']:.2f} | {s['pa_mpjpe_mm']:.2f} | "
                         f"{s['auc_0_50']:.3f} | {s['count']} |")
    if "localizer" in results:
        r = results["localizer"]
        lines.append("")
        lines.append(f"localizer: {r['matched']}/{r['gt_hands']} GT hands matched (missed {r['missed']}, "
                     f"false positives {r['false_positives']}, mean centre error {r['centre_error_mm']:.1f} mm)")
    return "\n".join(lines)
