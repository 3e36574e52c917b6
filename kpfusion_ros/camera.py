"""Pinhole camera intrinsics: the one type the core takes a camera as.

Every function of the core that takes a camera (the pipeline, the localiser, the crop,
the evaluation) accepts any of:

* a :class:`CameraIntrinsics`;
* (fx, fy, cx, cy), as a sequence, a numpy array or a tensor;
* a 3×3 pinhole matrix K = [[fx, 0, cx], [0, fy, cy], [0, 0, 1]] (skew is not supported);
* any object with ``fx``, ``fy``, ``cx``, ``cy`` attributes (e.g. the ROS layer's intrinsics);

and turns it into :class:`CameraIntrinsics` with :meth:`CameraIntrinsics.of` at its entry.
The batched code (crops, network, geometry) works on the rows (fx, fy, cx, cy) that
:func:`camera_array` (numpy, K×4) and :meth:`CameraIntrinsics.as_tensor` give. Pixel
convention: OpenCV's, as :mod:`kpfusion_ros.geometry` documents. ROS-free, numpy only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

__all__ = ["CameraIntrinsics", "CameraLike", "camera_array"]

#: What the core accepts as a camera: a :class:`CameraIntrinsics`, (fx, fy, cx, cy), a 3×3 K,
#: or an object with ``fx``, ``fy``, ``cx``, ``cy`` attributes.
CameraLike = Any

_FIELDS = ("fx", "fy", "cx", "cy")


def _numpy(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):  # a torch tensor (torch is not imported here)
        x = x.detach().cpu().numpy()
    try:
        return np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"camera intrinsics must be numbers, got {x!r}") from exc


def _from_matrix(k: np.ndarray) -> tuple[float, float, float, float]:
    if k[0, 1] != 0 or k[1, 0] != 0 or not np.array_equal(k[2], [0.0, 0.0, 1.0]):
        raise ValueError(f"a camera matrix K must be [[fx, 0, cx], [0, fy, cy], [0, 0, 1]] (no skew), got {k.tolist()}")
    return float(k[0, 0]), float(k[1, 1]), float(k[0, 2]), float(k[1, 2])


@dataclass(frozen=True)
class CameraIntrinsics:
    """fx, fy, cx, cy of one pinhole camera, in pixels of the image they belong to."""

    fx: float
    fy: float
    cx: float
    cy: float

    def __post_init__(self) -> None:
        for name in _FIELDS:
            object.__setattr__(self, name, float(getattr(self, name)))
        if not all(math.isfinite(getattr(self, n)) for n in _FIELDS):
            raise ValueError(f"camera intrinsics must be finite, got {self.as_tuple()}")

    @classmethod
    def of(cls, cam: Any) -> "CameraIntrinsics":
        """``cam`` as intrinsics: itself, (fx, fy, cx, cy), a 3×3 K, or an object with those attributes."""
        if isinstance(cam, cls):
            return cam
        if all(hasattr(cam, n) for n in _FIELDS):
            return cls(*(getattr(cam, n) for n in _FIELDS))
        a = _numpy(cam)
        if a.shape == (3, 3):
            return cls(*_from_matrix(a))
        if a.shape in ((4,), (1, 4)):
            return cls(*a.reshape(4))
        raise ValueError("camera intrinsics must be (fx, fy, cx, cy), a 3x3 K matrix or CameraIntrinsics, "
                         f"got an array of shape {a.shape}")

    def as_tuple(self) -> tuple[float, float, float, float]:
        return self.fx, self.fy, self.cx, self.cy

    def as_array(self) -> np.ndarray:
        """(4,) float64 (fx, fy, cx, cy)."""
        return np.array(self.as_tuple(), dtype=np.float64)

    def matrix(self) -> np.ndarray:
        """The 3×3 float64 camera matrix K."""
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])

    def as_tensor(self, dtype=None, device=None):
        """(4,) tensor (fx, fy, cx, cy), the row the network and :mod:`kpfusion_ros.geometry` take per hand."""
        import torch

        return torch.tensor(self.as_tuple(), dtype=dtype or torch.float32, device=device)


def camera_array(cam: Any, k: Optional[int] = None) -> np.ndarray:
    """K×4 float64 rows (fx, fy, cx, cy) for a batch of K hands.

    ``cam``: one camera in any form :meth:`CameraIntrinsics.of` accepts (every row the same),
    or one camera per hand as K×4 rows or K×3×3 matrices. With ``k`` given, a single camera is
    repeated k times and per-hand rows must number k.
    """
    if isinstance(cam, CameraIntrinsics) or all(hasattr(cam, n) for n in _FIELDS):
        rows = CameraIntrinsics.of(cam).as_array()[None]
    else:
        a = _numpy(cam)
        if a.shape == (3, 3) or a.shape == (4,):
            rows = CameraIntrinsics.of(a).as_array()[None]
        elif a.ndim == 2 and a.shape[1] == 4:
            rows = a
        elif a.ndim == 3 and a.shape[1:] == (3, 3):
            rows = np.array([_from_matrix(m) for m in a], dtype=np.float64).reshape(-1, 4)
        else:
            raise ValueError("cameras must be (fx, fy, cx, cy), a 3x3 K, K×4 rows or K×3×3 matrices, "
                             f"got an array of shape {a.shape}")
        if not np.isfinite(rows).all():
            raise ValueError("camera intrinsics must be finite")
    if k is not None and rows.shape[0] != k:
        if rows.shape[0] != 1:
            raise ValueError(f"{rows.shape[0]} cameras for {k} hands")
        rows = np.broadcast_to(rows, (k, 4))
    return rows
