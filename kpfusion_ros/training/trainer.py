"""The training loop (reference §4): AdamW (lr 8e-4, weight decay 0.01 on all parameters,
betas 0.9/0.999), step decay ×0.1 at 11/15 of the run (the authors: 15 epochs, ×0.1 after
epoch 10), fp32 (TF32 matmuls on CUDA), no clipping, no warm-up.

No global state is touched: the weights are drawn, and dropout runs, from the trainer's own
random state (seeded by ``init_seed``, saved in checkpoints), and TF32 is switched on only
for the duration of a training step.

Budgets: ``steps`` is the schedule; ``time_budget_s`` (optional) stops early at a wall-clock
limit — the ×0.1 step then happens at 11/15 of the time budget if that comes first, so a
time-limited run still gets its low-LR phase. Checkpoints (``last.pt``: model, optimizer,
scheduler, step, RNG states, elapsed time) make runs resumable; ``metrics.csv`` gets one row
per logged step (every loss term unweighted, the weighted total, lr, train MPJPE of the final
pose in mm); ``loss.png`` plots them; TensorBoard is optional.
"""

from __future__ import annotations

import csv
import json
import math
import os
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Iterator, Optional

import torch

from ..model import build_model, count_parameters, preset
from ..preprocessing import CropConfig
from .data import DataConfig, DatasetCropStream, RenderedCropStream, SyntheticCropStream
from .losses import LossWeights, compute_losses


@dataclass
class TrainConfig:
    preset: str = "lite"
    overrides: dict = field(default_factory=dict)   # ModelConfig field overrides
    data: DataConfig = field(default_factory=DataConfig)
    steps: int = 1000
    lr: float = 8e-4
    weight_decay: float = 0.01
    lr_decay_at: float = 11 / 15    # fraction of the schedule (steps, or time budget) at which lr ×= gamma
    gamma: float = 0.1
    time_budget_s: float = 0.0      # 0 = none
    device: str = "cpu"
    precision: str = "fp32"         # fp32 | bf16 (autocast of the forward pass; see kpfusion-bench-train)
    channels_last: bool = False     # channels-last memory format for the image branches
    init_seed: int = 0              # torch seed for weights and dropout
    init_weights: str = ""          # start from this exported checkpoint's weights ("" = drawn; a run's last.pt wins)
    log_every: int = 10
    ckpt_every: int = 200
    tensorboard: bool = False

    def model_config(self):
        ov = dict(self.overrides)
        for k in ("trunk_widths", "trunk_blocks", "fa_radii"):
            if k in ov:
                ov[k] = tuple(ov[k])
        return preset(self.preset, **ov)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        d = dict(d)
        d["data"] = DataConfig(**d.get("data", {}))
        return cls(**d)


@contextmanager
def allow_tf32(enabled: bool = True) -> Iterator[None]:
    """TF32 matmuls and convolutions on CUDA while inside (``enabled``), the previous settings after."""
    matmul, cudnn = torch.backends.cuda.matmul, torch.backends.cudnn
    before = (matmul.allow_tf32, cudnn.allow_tf32)
    if enabled:
        matmul.allow_tf32, cudnn.allow_tf32 = True, True
    try:
        yield
    finally:
        matmul.allow_tf32, cudnn.allow_tf32 = before


class Trainer:
    """``Trainer(cfg, out_dir).fit()`` → the trained model (also in ``out_dir/last.pt``)."""

    def __init__(self, cfg: TrainConfig, out_dir: str, progress: bool = True, dataset=None):
        self.cfg, self.out_dir, self.progress = cfg, out_dir, progress
        os.makedirs(out_dir, exist_ok=True)
        self.device = torch.device(cfg.device)
        self.model_cfg = cfg.model_config()
        # the trainer's own random state (weights, dropout), as torch.manual_seed(init_seed) would set it
        self.rng_cpu = torch.Generator().manual_seed(cfg.init_seed).get_state()
        self.rng_cuda = None
        if self.device.type == "cuda":
            with torch.random.fork_rng(devices=self._cuda_devices()), torch.cuda.device(self.device):
                torch.cuda.manual_seed(cfg.init_seed)
                self.rng_cuda = torch.cuda.get_rng_state(self.device)
        with self._own_rng():
            self.model = build_model(self.model_cfg).to(self.device)
        if cfg.init_weights:
            self._load_init_weights(cfg.init_weights)
        if cfg.precision not in ("fp32", "bf16"):
            raise ValueError(f"precision must be fp32 or bf16, not {cfg.precision!r}")
        if cfg.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.opt = torch.optim.AdamW(self.model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay,
                                     betas=(0.9, 0.999), eps=1e-8)
        decay_step = max(1, int(round(cfg.steps * cfg.lr_decay_at)))
        self.sched = torch.optim.lr_scheduler.MultiStepLR(self.opt, milestones=[decay_step], gamma=cfg.gamma)
        self.crop_cfg = CropConfig.for_model(self.model_cfg, cube_mm=cfg.data.cube_mm)
        # dataset: a real-dataset reader (HandFrames); None = synthetic frames rendered on the fly
        if cfg.data.hidden_weight != 1.0 and (dataset is not None or cfg.data.render != "crops"):
            raise ValueError("hidden_weight applies to rendered crops (render 'crops', synthetic data) only")
        if cfg.data.hidden_weight <= 0:
            raise ValueError(f"hidden_weight must be > 0, got {cfg.data.hidden_weight}")
        if cfg.data.min_sensed != 0.0 and (dataset is not None or cfg.data.render != "crops"):
            raise ValueError("min_sensed applies to rendered crops (render 'crops', synthetic data) only")
        if not 0.0 <= cfg.data.min_sensed <= 1.0:
            raise ValueError(f"min_sensed must be in [0, 1], got {cfg.data.min_sensed}")
        if cfg.data.front_object != 0.0 and dataset is not None:
            raise ValueError("front_object applies to synthetic data only (a dataset's frames are not rendered)")
        if not 0.0 <= cfg.data.front_object <= 1.0:
            raise ValueError(f"front_object must be in [0, 1], got {cfg.data.front_object}")
        if dataset is not None:
            self.stream = DatasetCropStream(dataset, cfg.data, self.crop_cfg, self.device)
        elif cfg.data.render == "crops":
            self.stream = RenderedCropStream(cfg.data, self.crop_cfg, self.device)
        else:
            self.stream = SyntheticCropStream(cfg.data, self.crop_cfg, self.device)
        self.weights = LossWeights()
        self.step = 0
        self.elapsed = 0.0
        self.decayed_by_time = False
        self.history: list[dict] = []
        self.ckpt_path = os.path.join(out_dir, "last.pt")
        self.csv_path = os.path.join(out_dir, "metrics.csv")
        with open(os.path.join(out_dir, "train_config.json"), "w") as f:
            json.dump({"train": cfg.to_dict(), "model": self.model_cfg.to_dict(),
                       "parameters": count_parameters(self.model)}, f, indent=1)

    def _cuda_devices(self) -> list[int]:
        if self.device.type != "cuda":
            return []
        return [self.device.index if self.device.index is not None else torch.cuda.current_device()]

    @contextmanager
    def _own_rng(self) -> Iterator[None]:
        """Run on the trainer's random state (CPU, and the training device's on CUDA), then give the
        caller's global random state back."""
        with torch.random.fork_rng(devices=self._cuda_devices()):
            torch.set_rng_state(self.rng_cpu)
            if self.rng_cuda is not None:
                torch.cuda.set_rng_state(self.rng_cuda, self.device)
            try:
                yield
            finally:
                self.rng_cpu = torch.get_rng_state()
                if self.rng_cuda is not None:
                    self.rng_cuda = torch.cuda.get_rng_state(self.device)

    # -- checkpoints ----------------------------------------------------------------------
    def _load_init_weights(self, path: str) -> None:
        """Fine-tuning: the weights of an exported checkpoint (:func:`~kpfusion_ros.checkpoint.save_checkpoint`,
        fp16 or fp32) whose model config is this run's; the optimizer starts fresh. A run directory with a
        ``last.pt`` resumes from that instead (:meth:`fit`)."""
        from kpfusion_ros.checkpoint import CheckpointError, load_checkpoint

        model, config, _ = load_checkpoint(path)
        theirs, ours = config.to_dict(), self.model_cfg.to_dict()
        if theirs != ours:
            diff = sorted(k for k in theirs.keys() | ours.keys() if theirs.get(k) != ours.get(k))
            raise CheckpointError(f"{path}: its model config differs from this run's in {diff}")
        self.model.load_state_dict({k: v.float() if v.is_floating_point() else v
                                    for k, v in model.state_dict().items()})

    def state_dict(self) -> dict:
        st = {"model": self.model.state_dict(), "optimizer": self.opt.state_dict(),
              "scheduler": self.sched.state_dict(), "step": self.step, "elapsed": self.elapsed,
              "decayed_by_time": self.decayed_by_time, "train_config": self.cfg.to_dict(),
              "model_config": self.model_cfg.to_dict(), "rng_cpu": self.rng_cpu}
        if self.rng_cuda is not None:
            st["rng_cuda"] = self.rng_cuda
        return st

    def save(self, path: Optional[str] = None) -> str:
        path = path or self.ckpt_path
        tmp = path + ".tmp"
        torch.save(self.state_dict(), tmp)
        os.replace(tmp, path)
        return path

    def load(self, path: Optional[str] = None) -> None:
        st = torch.load(path or self.ckpt_path, map_location=self.device, weights_only=False)
        self.model.load_state_dict(st["model"])
        self.opt.load_state_dict(st["optimizer"])
        self.sched.load_state_dict(st["scheduler"])
        self.step, self.elapsed = int(st["step"]), float(st["elapsed"])
        self.decayed_by_time = bool(st.get("decayed_by_time", False))
        self.rng_cpu = st["rng_cpu"].cpu()
        if "rng_cuda" in st and self.rng_cuda is not None:
            self.rng_cuda = st["rng_cuda"].cpu()

    def resume_if_possible(self) -> bool:
        if os.path.isfile(self.ckpt_path):
            self.load()
            return True
        return False

    # -- one step -------------------------------------------------------------------------
    def train_step(self, step: int) -> dict:
        with self._own_rng(), allow_tf32(self.device.type == "cuda"):
            hb = self.stream.batch(step)
            self.model.train()
            inputs = list(hb.inputs())
            if self.cfg.channels_last:
                inputs[0] = inputs[0].contiguous(memory_format=torch.channels_last)
                inputs[1] = inputs[1].contiguous(memory_format=torch.channels_last)
            with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.cfg.precision == "bf16"):
                out = self.model(*inputs)
            terms = compute_losses(out, hb.crops.depth, hb.xyz_gt, hb.uvd_gt, self.model_cfg.awr_kernel,
                                   self.weights)
            self.opt.zero_grad(set_to_none=True)
            terms["total"].backward()
            self.opt.step()
            with torch.no_grad():
                err = ((out.final.detach() - hb.xyz_gt).norm(dim=-1) * hb.crops.cube[:, 2:3] / 2).mean()
        row = {k: float(v.detach()) for k, v in terms.items()}
        row["train_mpjpe_mm"] = float(err)
        row["hands"] = len(hb)
        return row

    def fit(self, resume: bool = True) -> torch.nn.Module:
        c = self.cfg
        if resume:
            self.resume_if_possible()
        writer = None
        if c.tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
                writer = SummaryWriter(os.path.join(self.out_dir, "tb"))
            except Exception:  # noqa: BLE001 - tensorboard not installed
                writer = None
        bar = None
        if self.progress:
            from tqdm import tqdm
            bar = tqdm(total=c.steps, initial=self.step, desc=f"train {c.preset}", unit="step", dynamic_ncols=True)
        t_start = time.time() - self.elapsed
        fresh_csv = not os.path.isfile(self.csv_path) or self.step == 0
        fcsv = open(self.csv_path, "w" if fresh_csv else "a", newline="")
        wcsv = None
        decay_step = min(self.sched.milestones) if self.sched.milestones else None
        try:
            while self.step < c.steps:
                self.elapsed = time.time() - t_start
                if c.time_budget_s > 0 and self.elapsed >= c.time_budget_s:
                    break
                if (c.time_budget_s > 0 and not self.decayed_by_time and decay_step is not None
                        and self.step < decay_step and self.elapsed >= c.lr_decay_at * c.time_budget_s):
                    # the time budget will end the run before the planned decay: decay now
                    for g in self.opt.param_groups:
                        g["lr"] *= c.gamma
                    self.sched.milestones = Counter()
                    self.decayed_by_time = True
                row = self.train_step(self.step)
                self.sched.step()
                self.step += 1
                if not all(math.isfinite(v) for v in row.values()):
                    raise FloatingPointError(f"non-finite loss at step {self.step}: {row}")
                if self.step % c.log_every == 0 or self.step == c.steps or self.step == 1:
                    row = {"step": self.step, "lr": self.opt.param_groups[0]["lr"],
                           "time_s": round(time.time() - t_start, 2), **row}
                    self.history.append(row)
                    if wcsv is None:
                        wcsv = csv.DictWriter(fcsv, fieldnames=list(row.keys()))
                        if fresh_csv:
                            wcsv.writeheader()
                    wcsv.writerow(row)
                    fcsv.flush()
                    if writer is not None:
                        for k, v in row.items():
                            if k != "step":
                                writer.add_scalar(k, v, self.step)
                    if bar is not None:
                        bar.set_postfix(loss=f"{row['total']:.4f}", mpjpe=f"{row['train_mpjpe_mm']:.1f}")
                if bar is not None:
                    bar.update(1)
                if c.ckpt_every and self.step % c.ckpt_every == 0:
                    self.elapsed = time.time() - t_start
                    self.save()
            self.elapsed = time.time() - t_start
            self.save()
        finally:
            if hasattr(self.stream, "close"):
                self.stream.close()
            fcsv.close()
            if bar is not None:
                bar.close()
            if writer is not None:
                writer.close()
        try:
            plot_curves(self.csv_path, os.path.join(self.out_dir, "loss.png"), title=c.preset)
        except Exception:  # noqa: BLE001 - plotting is best-effort
            pass
        return self.model


def read_csv(path: str) -> list[dict]:
    with open(path) as f:
        return [{k: float(v) for k, v in r.items()} for r in csv.DictReader(f)]


def plot_curves(csv_path: str, png_path: str, title: str = "") -> None:
    """Loss curve PNG: weighted total (log) and train MPJPE of the final pose vs step."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = read_csv(csv_path)
    if not rows:
        return
    st = [r["step"] for r in rows]
    fig, ax = plt.subplots(1, 2, figsize=(10, 3.5))
    ax[0].semilogy(st, [r["total"] for r in rows])
    ax[0].set_xlabel("step"), ax[0].set_ylabel("total loss (weighted)")
    ax[1].plot(st, [r["train_mpjpe_mm"] for r in rows])
    ax[1].set_xlabel("step"), ax[1].set_ylabel("train MPJPE final pose (mm, augmented)")
    for a in ax:
        a.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(png_path, dpi=90)
    plt.close(fig)
