"""The hand verifier: a tiny CNN that says whether a depth patch is a hand, which hand, and where its centre is.

Input: the K×2×64×64 metric depth patches of :mod:`.patches` (a 300 mm cube around a candidate's
3D centre, depth only, so that it works without colour), and optionally (``VerifierSpec.context_scale``)
a second, wider patch around the same centre stacked behind it (K×4×64×64;
:func:`~.patches.verifier_patches` builds either). Outputs per patch (:class:`VerifierOutput`):

* ``hand_logit``: log-odds that a hand's joint mean lies near the centre (p(hand) = sigmoid);
* ``right_logit``: log-odds that it is a right hand (the subject's own side; meaningful for hands);
* ``offset_mm``: the 3D offset from the candidate centre to the hand's joint mean (camera axes, mm),
  regressed as a fraction of half the cube (``offset_mm = 150 · out``).

Five strided 3×3/5×5 convolutions with batch norm and ReLU (64 → 4 pixels), one hidden fully
connected layer and three linear heads: about 0.3 M parameters, ~4 M multiply-adds per patch, so
that every candidate of a frame goes through one forward pass in a few milliseconds on a CPU.

Weights: ``models/hand_verifier.pt`` (fp16 state dict + the architecture numbers) with its sidecar
``models/hand_verifier.json`` (training data seeds, command, metrics). :func:`load_verifier` loads
either a path or the shipped file and raises :class:`VerifierLoadError` naming the file and the
problem when it cannot.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Optional

import torch
from torch import nn

from .patches import PATCH_CHANNELS, PATCH_CUBE_MM, PATCH_SIZE

__all__ = ["VerifierSpec", "VerifierOutput", "HandVerifier", "VerifierLoadError", "load_verifier",
           "save_verifier", "default_verifier_path", "VERIFIER_FILE"]

VERIFIER_FILE = "hand_verifier.pt"
FORMAT = "kpfusion_ros.hand_verifier/1"


@dataclass(frozen=True)
class VerifierSpec:
    """Architecture and input of a :class:`HandVerifier` (saved with the weights)."""

    patch_size: int = PATCH_SIZE
    cube_mm: float = PATCH_CUBE_MM
    in_channels: int = PATCH_CHANNELS
    channels: tuple[int, ...] = (16, 32, 64, 96)
    hidden: int = 128
    #: > 0: a second, context patch of ``context_scale × cube_mm`` (same size, its own normalisation) is stacked
    #: behind the first (``in_channels`` 4): it shows what the candidate is attached to (an arm reaching in
    #: from the image border, or the table an object stands on). 0: the hand patch alone.
    context_scale: float = 0.0

    def __post_init__(self) -> None:
        want = PATCH_CHANNELS * (2 if self.context_scale > 0 else 1)
        if self.in_channels != want:
            raise ValueError(f"in_channels must be {want} with context_scale {self.context_scale:g}, "
                             f"got {self.in_channels}")


@dataclass
class VerifierOutput:
    hand_logit: torch.Tensor  # K
    right_logit: torch.Tensor  # K
    offset_mm: torch.Tensor  # K×3

    @property
    def p_hand(self) -> torch.Tensor:
        return torch.sigmoid(self.hand_logit)

    @property
    def p_right(self) -> torch.Tensor:
        return torch.sigmoid(self.right_logit)


class HandVerifier(nn.Module):
    """Depth patch → (hand logit, right-hand logit, offset to the joint mean); see the module docstring."""

    def __init__(self, spec: VerifierSpec = VerifierSpec()) -> None:
        super().__init__()
        self.spec = spec
        layers: list[nn.Module] = []
        c_in = spec.in_channels
        for i, c in enumerate(spec.channels):
            k = 5 if i == 0 else 3
            layers += [nn.Conv2d(c_in, c, k, stride=2, padding=k // 2, bias=False), nn.BatchNorm2d(c),
                       nn.ReLU(inplace=True)]
            c_in = c
        self.features = nn.Sequential(*layers)
        side = spec.patch_size // 2 ** len(spec.channels)
        self.hidden = nn.Sequential(nn.Flatten(), nn.Linear(c_in * side * side, spec.hidden), nn.ReLU(inplace=True))
        self.head = nn.Linear(spec.hidden, 5)  # hand, right, offset xyz

    def forward(self, patches: torch.Tensor) -> torch.Tensor:
        """K×C×S×S → K×5 raw outputs (hand logit, right logit, offset as a fraction of half the cube)."""
        return self.head(self.hidden(self.features(patches)))

    def decode(self, raw: torch.Tensor) -> VerifierOutput:
        raw = raw.float()
        return VerifierOutput(raw[:, 0], raw[:, 1], raw[:, 2:5] * (0.5 * self.spec.cube_mm))

    @torch.inference_mode()
    def predict(self, patches: torch.Tensor) -> VerifierOutput:
        """Inference on a batch of patches (any K, also 0)."""
        p = next(self.parameters())
        return self.decode(self(patches.to(device=p.device, dtype=p.dtype)))


class VerifierLoadError(RuntimeError):
    """The verifier's weights are missing, corrupt or incompatible; the message says which file and why."""


def default_verifier_path() -> Optional[Path]:
    """The shipped weights (``share/kpfusion_ros/models`` of a ROS install, else ``models/`` of the source tree)."""
    from kpfusion_ros.pipeline import shipped_model_file

    return shipped_model_file(VERIFIER_FILE)


def save_verifier(model: HandVerifier, path, meta: Optional[dict] = None, half: bool = True) -> None:
    """Write the weights (fp16 unless ``half`` is False), the spec and ``meta`` to ``path``."""
    sd = {k: (v.half() if half and v.is_floating_point() else v).clone() for k, v in model.state_dict().items()}
    spec = asdict(model.spec)
    spec["channels"] = list(spec["channels"])
    torch.save({"format": FORMAT, "spec": spec, "state_dict": sd, "meta": meta or {}}, str(path))


def load_verifier(path: str = "", device: str | torch.device = "cpu") -> tuple[HandVerifier, dict]:
    """(verifier in eval mode, float32, on ``device``; its meta) from ``path`` ("" = the shipped file)."""
    if not path:
        p = default_verifier_path()
        if p is None:
            raise VerifierLoadError(f"the shipped hand verifier ({VERIFIER_FILE}) is not installed: expected in "
                                    "share/kpfusion_ros/models or models/ of the source tree")
    else:
        p = Path(path).expanduser()
    if not p.is_file():
        raise VerifierLoadError(f"hand verifier file not found: {p}")
    try:
        blob = torch.load(str(p), map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated, not a torch file, …
        raise VerifierLoadError(f"cannot read hand verifier file {p}: {exc}") from exc
    if not isinstance(blob, dict) or blob.get("format") != FORMAT:
        raise VerifierLoadError(f"{p} is not a hand verifier file (format {FORMAT!r} expected)")
    try:
        spec_d = dict(blob["spec"])
        spec_d["channels"] = tuple(spec_d["channels"])
        model = HandVerifier(VerifierSpec(**spec_d))
        model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in blob["state_dict"].items()})
    except Exception as exc:  # missing keys, wrong shapes, unknown spec fields
        raise VerifierLoadError(f"hand verifier file {p} does not match the architecture: {exc}") from exc
    model.eval().to(device)
    meta = dict(blob.get("meta") or {})
    meta["path"] = str(p)
    return model, meta
