"""Per-frame hand pose estimation on full RGB-D frames, ROS-free.

The node, the offline bag processor and the evaluation's "real use" protocol all
run this: find hands in the depth image (:mod:`kpfusion_ros.localization`), keep
stable ids (:mod:`kpfusion_ros.tracking`), crop every hand of the frame and run
the network once on the whole batch, optionally re-crop around the predicted
joint mean and run again (``refine_iterations``), and map the predictions back
to camera-frame metres and image pixels (:mod:`kpfusion_ros.preprocessing`).

Confidence. The network has no confidence output. Per joint we use the
agreement between the last two supervised poses of the network (a joint the
last stage had to move far is one the network is unsure of):
``exp(−‖p_last − p_prev‖ / confidence_scale_mm)``; models with one pose
(depth-only) use the distance between the AWR initial pose and the final pose,
which is 0 for them, i.e. confidence 1. The overall confidence is the median
joint confidence times the fraction of foreground pixels the crop expected
(a crop with almost no depth is not trusted). Both are heuristics and are
documented as such. After the last pass the hand verifier looks once more, at each
final pose's joint mean (one batch): the track's centre score
(:attr:`~kpfusion_ros.tracking.Track.centre_score`), one input of the published
confidence (:func:`~kpfusion_ros.tracking.overall_confidence`).

Tracking. Which centres are cropped, which are re-cropped, which tracks move and which
are returned is decided by :mod:`kpfusion_ros.tracking` (``PipelineConfig.tracker``): only
confirmed tracks are returned, a coasting one only while its pose is confident enough.

Configuration. :class:`PipelineConfig` holds the localiser's and the tracker's configs whole
(millimetres, as the whole core); the crop follows the model (``CropConfig.for_model``) with
the cube of ``cube_mm``. The ROS parameters map onto it in
:func:`kpfusion_ros.node_config.pipeline_config`, the one place metres become millimetres.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from kpfusion_ros.camera import CameraIntrinsics, CameraLike
from kpfusion_ros.hand import HANDEDNESS_UNKNOWN, HandEstimate
from kpfusion_ros.joints import order_index
from kpfusion_ros.localization import HandLocalizer, LocalizerConfig
from kpfusion_ros.preprocessing import CUBE_MM, CropBatch, CropConfig, crop_hands, predictions_to_camera
from kpfusion_ros.side_test import SideTestConfig, pose_logits, side_test_crops, side_test_due
from kpfusion_ros.tracking import HandTracker, TrackerConfig, joint_mean, refine_centres

log = logging.getLogger(__name__)

MODEL_FILE = "kpfusion_lite.pt"
#: The network predicts in network order; every HandEstimate is in public order (kpfusion_ros.joints).
_TO_PUBLIC = order_index("network", "public")


@dataclass
class PipelineConfig:
    """Settings of :class:`HandPosePipeline`, in millimetres (the node's parameters map onto
    these in :func:`kpfusion_ros.node_config.pipeline_config`).

    The localiser (working volume, ``max_hands``, ``min_score`` …) and the tracker (gates,
    confidence thresholds …) are configured through their own configs, taken whole.
    """

    model_path: str = ""  # "" = the shipped weights; "random:<preset>" = untrained weights (tests)
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    fp16: bool = False  # half precision on CUDA only
    #: Re-crops per frame around the predicted joint mean, each with another forward pass.
    #: 2 since 2026-12-02: on rendered sequences it beat 1 and 0 (docs/results/refine_2026-12-02/).
    refine_iterations: int = 2
    #: Edge of the metric crop cube (mm); the rest of the crop follows the model.
    cube_mm: float = CUBE_MM
    #: Scale of the per-joint confidence (:func:`pose_confidence`), mm.
    confidence_scale_mm: float = 10.0
    seed: int = 0  # point-sampling generator seed (deterministic output for a given input)
    #: Threads of torch's CPU operators in this process (``torch.set_num_threads``, process-wide) when > 0;
    #: 0 leaves torch's setting (by default one per core). On a small CPU shared with a camera driver and DDS,
    #: fewer threads than cores avoid oversubscription (docs/demo.md measures it).
    torch_threads: int = 0
    localizer: LocalizerConfig = field(default_factory=LocalizerConfig)
    tracker: TrackerConfig = field(default_factory=TrackerConfig)
    #: The stability side test, run while a track's side is undecided when ``tracker.side_source`` is "stability".
    side_test: SideTestConfig = field(default_factory=SideTestConfig)


class ModelLoadError(RuntimeError):
    """The model file is missing, corrupt or incompatible; the message says which and where."""


def shipped_model_file(name: str) -> Optional[Path]:
    """A shipped file of ``models/``: ``share/kpfusion_ros/models/<name>`` of a ROS install, else ``models/<name>``
    of the source tree; None when neither exists."""
    candidates = []
    try:
        from ament_index_python.packages import get_package_share_directory

        candidates.append(Path(get_package_share_directory("kpfusion_ros")) / "models" / name)
    except Exception:
        pass
    candidates.append(Path(__file__).resolve().parents[1] / "models" / name)
    for c in candidates:
        if c.is_file():
            return c
    return None


def default_model_path() -> Optional[Path]:
    """The shipped pose network weights (:func:`shipped_model_file` of ``MODEL_FILE``)."""
    return shipped_model_file(MODEL_FILE)


def resolve_device(requested: str) -> tuple[torch.device, Optional[str]]:
    """The device to use and, when the request could not be honoured, a warning saying so."""
    req = (requested or "auto").strip().lower()
    if req == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu"), None
    if req == "cpu":
        return torch.device("cpu"), None
    if req.startswith("cuda"):
        if not torch.cuda.is_available():
            return torch.device("cpu"), f"device '{requested}' requested but CUDA is not available: using the CPU"
        dev = torch.device(req)
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            return torch.device("cuda:0"), (f"device '{requested}' does not exist "
                                            f"({torch.cuda.device_count()} CUDA device(s)): using cuda:0")
        return dev, None
    raise ValueError(f"device must be auto, cpu, cuda or cuda:N, not '{requested}'")


def load_model(path: str, device: torch.device):
    """Load a model for inference. Returns (model, model_config, description)."""
    from kpfusion_ros.model import build_model, preset

    if path.startswith("random:"):
        name = path.split(":", 1)[1] or "lite"
        cfg = preset(name)
        with torch.random.fork_rng(devices=[]):  # the same weights every time, the caller's RNG untouched
            torch.manual_seed(0)
            model = build_model(cfg)
        desc = f"UNTRAINED random weights of preset '{name}' (poses are meaningless)"
    else:
        from kpfusion_ros.checkpoint import load_checkpoint

        p = Path(path)
        if not p.is_file():
            raise ModelLoadError(f"model file not found: {p}")
        try:
            model, cfg, meta = load_checkpoint(str(p), map_location="cpu")
        except Exception as exc:  # corrupt, truncated or incompatible
            raise ModelLoadError(f"cannot load model file {p}: {exc}") from exc
        prov = meta.get("provenance", {}) if isinstance(meta, dict) else {}
        trained = f", {prov['steps']} training steps" if "steps" in prov else ""
        desc = f"{p} ({cfg.arch}{trained}; {prov.get('source', 'no provenance recorded')})"
    model.eval().to(device)
    return model, cfg, desc


def pose_confidence(out, batch: CropBatch, scale_mm: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(per-joint confidence K×J, overall confidence K) of the network output ``out`` on ``batch``.

    Per joint: ``exp(−‖p_last − p_prev‖ / scale_mm)`` over the last two supervised poses (the
    AWR initial pose when there is one pose); overall: the median joint confidence × the crop's
    foreground fraction (of 5 % of the crop's pixels, at most 1) × the crop's validity. Heuristics,
    documented in the module docstring.
    """
    final = out.final.float()
    prev = (out.poses[-2] if len(out.poses) >= 2 else out.initial).float()
    dist_mm = torch.linalg.norm((final - prev) * (batch.cube.unsqueeze(1) / 2), dim=-1)
    joint_conf = torch.exp(-dist_mm / scale_mm)
    expected = float(batch.crop_size ** 2) * 0.05
    fg = torch.clamp(batch.num_foreground.to(final) / expected, max=1.0)
    return joint_conf, joint_conf.median(dim=1).values * fg * batch.valid.to(final)


@dataclass
class FrameResult:
    hands: list[HandEstimate]
    detections: int
    timings_ms: dict


class HandPosePipeline:
    """Localise, track and estimate every hand of a frame with one batched forward pass per iteration."""

    def __init__(self, cfg: Optional[PipelineConfig] = None, model=None, model_cfg=None):
        """``model`` (with its ``model_cfg``, required then) replaces the one of ``cfg.model_path``."""
        cfg = cfg if cfg is not None else PipelineConfig()
        if cfg.torch_threads < 0:
            raise ValueError(f"torch_threads must be >= 0 (0 = torch's default), got {cfg.torch_threads}")
        if cfg.torch_threads > 0:
            torch.set_num_threads(int(cfg.torch_threads))
        self.cfg = cfg
        self.device, self.device_warning = resolve_device(cfg.device)
        if model is None:
            path = cfg.model_path or (str(default_model_path()) if default_model_path() else "random:lite")
            model, model_cfg, self.model_description = load_model(path, self.device)
        else:
            if model_cfg is None:
                raise ValueError("a model given in code needs its model_cfg (the crop follows it)")
            model.eval().to(self.device)
            self.model_description = "model given in code"
        self.model, self.model_cfg = model, model_cfg
        self.untrained = self.model_description.startswith("UNTRAINED")
        self.half = bool(cfg.fp16 and self.device.type == "cuda")
        if self.half:
            self.model.half()
        self.crop_cfg = CropConfig.for_model(model_cfg, cube_mm=cfg.cube_mm)
        self.localizer = HandLocalizer(cfg.localizer)
        self.tracker = HandTracker(cfg.tracker)
        self.generator = torch.Generator(device="cpu")
        self._stage_ms: dict = {}

    def apply_config(self, cfg: PipelineConfig) -> None:
        """Take new settings between frames (the node's run-time parameters): localiser, tracker and
        per-frame options. The model, device, crop settings and ``torch_threads`` stay those of the constructor."""
        self.cfg = cfg
        self.localizer.config = cfg.localizer
        self.tracker.config = cfg.tracker

    # -- the network on a batch of centres -------------------------------------------------------
    @torch.inference_mode()
    def estimate(self, rgb, depth_mm, cam: CameraLike, centres_mm: np.ndarray, mirror=None, cube_mm=None):
        """Crop at ``centres_mm`` (K×3) and run the network once; returns (joints_m, pixels, conf, overall, batch).

        ``rgb`` (H×W×3 uint8) and ``depth_mm`` (H×W, mm) may be numpy arrays or tensors already on the device.
        ``mirror``: K bools, True for left hands: their crops are mirrored before the network (it only
        knows right hands, reference §3 "Left hands") and their joints mirrored back
        (:func:`~kpfusion_ros.preprocessing.predictions_to_camera`); None = all right hands. ``cube_mm``:
        K×3 crop cubes (mm), None = the configured cube.
        """
        st = self._stage_ms
        t0 = time.perf_counter()
        self.generator.manual_seed(self.cfg.seed)
        batch = crop_hands(rgb, depth_mm, centres_mm, cam, self.crop_cfg, generator=self.generator, mirror=mirror,
                           color_order="rgb", device=self.device, timings=st, cube_mm=cube_mm)
        inputs = batch.network_inputs()
        if self.half:
            inputs = tuple(t.half() if t.is_floating_point() else t for t in inputs)
        t1 = time.perf_counter()
        out = self.model(*inputs)
        final = out.final.float()
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        t2 = time.perf_counter()
        joint_conf, overall = pose_confidence(out, batch, self.cfg.confidence_scale_mm)
        joints_m, pixels = predictions_to_camera(final, batch)
        res = (joints_m.double().cpu().numpy(), pixels.double().cpu().numpy(),
               joint_conf.cpu().numpy(), overall.cpu().numpy(), batch)
        t3 = time.perf_counter()
        # per-stage wall times, summed over refine iterations (crop includes point_sampling, its step 6)
        st["crop"] = st.get("crop", 0.0) + (t1 - t0) * 1e3
        st["forward"] = st.get("forward", 0.0) + (t2 - t1) * 1e3
        st["decode"] = st.get("decode", 0.0) + (t3 - t2) * 1e3
        return res

    def process(self, rgb: np.ndarray, depth_mm: np.ndarray, cam: CameraLike,
                stamp: Optional[float] = None) -> FrameResult:
        """One frame: H×W×3 uint8 RGB, H×W float32 mm (0 invalid), its camera (a
        :class:`~kpfusion_ros.camera.CameraIntrinsics`, (fx, fy, cx, cy) or a 3×3 K), stamp in seconds."""
        cam = CameraIntrinsics.of(cam)
        t0 = time.perf_counter()
        detections = self.localizer.localize(depth_mm, cam)
        t1 = time.perf_counter()
        self.tracker.update(detections, stamp)
        centres = self.tracker.predicted_centres()
        timings = {"localize": (t1 - t0) * 1e3}
        if not centres:
            timings["network"] = 0.0
            return FrameResult([], len(detections), timings)
        ids = list(centres)
        c = np.stack([centres[i] for i in ids]).astype(np.float64)
        # which tracks are cropped as left hands (mirrored) is the tracker's decision (TrackerConfig.crop_side)
        mirror = np.array([self.tracker.crop_mirrored(self.tracker.get(i)) for i in ids], dtype=bool)
        t2 = time.perf_counter()
        self._stage_ms = {}
        # the frame goes to the device once; every refinement iteration crops from the same tensors
        rgb_t = torch.from_numpy(np.ascontiguousarray(rgb)).to(self.device)
        depth_t = torch.from_numpy(np.ascontiguousarray(depth_mm)).to(self.device)
        for it in range(1 + max(0, int(self.cfg.refine_iterations))):
            joints_m, pixels, jconf, overall, batch = self.estimate(rgb_t, depth_t, cam, c, mirror)
            if it < self.cfg.refine_iterations:
                c = refine_centres(c, joints_m * 1000.0, overall, self.tracker.config.min_refine_confidence)
        timings["network"] = (time.perf_counter() - t2) * 1e3
        timings.update(self._stage_ms)
        t3 = time.perf_counter()
        # the verifier looks once more, at each final pose's joint mean (one batch): the track's centre score
        pose_centres = joint_mean(joints_m * 1000.0).reshape(-1, 3)
        finite = np.isfinite(pose_centres).all(axis=1)
        centre_scores = np.full(len(ids), np.nan)
        if finite.any():
            s = self.localizer.score_at(depth_mm, cam, pose_centres[finite])
            if s is not None:
                centre_scores[finite] = s
        timings["centre_score"] = (time.perf_counter() - t3) * 1e3
        if self.tracker.config.side_source == "stability":
            t3 = time.perf_counter()
            self._side_test(rgb_t, depth_t, cam, ids, np.where(finite[:, None], pose_centres, c), batch)
            timings["side_test"] = (time.perf_counter() - t3) * 1e3
        t3 = time.perf_counter()
        by_id = {}
        for k, tid in enumerate(ids):
            self.tracker.update_from_pose(tid, joints_m[k] * 1000.0, float(overall[k]), float(centre_scores[k]))
            by_id[tid] = k
        hands = []
        h, w = depth_mm.shape[:2]
        bounds = batch.bounds.cpu().numpy()
        for tr in self.tracker.published_tracks():
            k = by_id.get(tr.id)
            if k is None or not bool(batch.valid[k]):
                continue
            x0, x1, y0, y1 = (int(v) for v in bounds[k])
            if bool(batch.mirrored[k]):
                x0, x1 = w - x1, w - x0
            x0c, y0c = max(x0, 0), max(y0, 0)
            roi = (x0c, y0c, max(min(x1, w) - x0c, 0), max(min(y1, h) - y0c, 0))
            side, side_conf = self.tracker.handedness(tr)
            hands.append(HandEstimate(track_id=int(tr.id), joints_m=joints_m[k][_TO_PUBLIC],
                                      pixels=pixels[k][_TO_PUBLIC], joint_confidence=jconf[k][_TO_PUBLIC],
                                      confidence=self.tracker.confidence(tr),
                                      center_m=c[k] / 1000.0, roi=roi, handedness=side,
                                      handedness_confidence=side_conf, hand_score=tr.hand_score,
                                      mirrored=bool(batch.mirrored[k]),
                                      extras={"pose_confidence": float(overall[k]), "centre_score": tr.centre_score}))
        timings["tracking_out"] = (time.perf_counter() - t3) * 1e3
        timings["total"] = (time.perf_counter() - t0) * 1e3
        return FrameResult(hands, len(detections), timings)

    def _side_test(self, rgb_t, depth_t, cam, ids: list, centres_mm: np.ndarray, batch) -> None:
        """The stability side test (:mod:`kpfusion_ros.side_test`) for the tracks it is due for
        (:func:`~kpfusion_ros.side_test.side_test_due`), all in one forward pass; each track's logit joins its
        side mean, weighted by its hand score."""
        scfg = self.cfg.side_test
        todo = []
        for k, tid in enumerate(ids):
            tr = self.tracker.get(tid)
            if tr is None or not bool(batch.valid[k]):
                continue
            if side_test_due(self.tracker.handedness(tr)[0] == HANDEDNESS_UNKNOWN, tr.side_tests, tr.age, scfg):
                todo.append(k)
        if not todo:
            return
        cent, cube, mirror = side_test_crops(centres_mm[todo], self.cfg.cube_mm, scfg)
        joints_m, _, _, _, tb = self.estimate(rgb_t, depth_t, cam, cent, mirror, cube_mm=cube)
        joints_mm = np.where(tb.valid.cpu().numpy()[:, None, None], joints_m * 1000.0, np.nan)
        logits = pose_logits(joints_mm, len(todo), scfg)
        for k, logit in zip(todo, logits):
            tr = self.tracker.get(ids[k])
            self.tracker.add_side_evidence(tr, float(logit), tr.hand_score)

    def reset(self) -> None:
        self.tracker.reset()
