"""Crop settings: the one home of the crop defaults (the 250 mm cube among them)."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Sequence, Union

import torch

__all__ = ["CUBE_MM", "CropConfig"]

#: Edge (mm) of the metric crop cube around each hand: the authors' DexYCB setting (reference §3
#: "Crop center and size"; their HO-3D setting is 280). Every other cube default derives from it.
CUBE_MM = 250.0

#: ModelConfig.rgb_input → whether the colour crop is in B, G, R order.
_BGR_OF_RGB_INPUT = {"bgr01": True, "rgb01": False}


@dataclass(frozen=True)
class CropConfig:
    """Crop and point-cloud settings (defaults = the authors' DexYCB test path, reference §3).

    crop_size: side S of the square crop (128).
    cube_mm: metric crop volume (x, y, z) in mm around the centre (:data:`CUBE_MM`³).
    num_points: N points sampled from the depth crop (1024).
    max_value_quirk: QUIRK (reference §3 "Depth normalisation" 1., §7.13): the authors
        treat every pixel equal to the crop's maximum value as background, which erases
        the farthest valid depth. On by default for ``official`` fidelity.
    bgr: output colour channels in B, G, R order as the authors' cv2 loader feeds the
        network (reference §3 "RGB normalisation"); False gives R, G, B.
    clamp_points: clamp the sampled points to [−1, 1] (HO3D and the demo do, DexYCB
        does not; reference §3 "Point cloud").
    valid_depth_mm: input depths outside [lo, hi] (and non-finite ones) are treated as
        invalid (0) before cropping. The authors have no such range; the default
        (0, inf) changes nothing.
    dtype: floating dtype of the returned tensors.

    :meth:`for_model` gives the settings a model was built for.
    """

    crop_size: int = 128
    cube_mm: tuple[float, float, float] = (CUBE_MM, CUBE_MM, CUBE_MM)
    num_points: int = 1024
    max_value_quirk: bool = True
    bgr: bool = True
    clamp_points: bool = False
    valid_depth_mm: tuple[float, float] = (0.0, math.inf)
    dtype: torch.dtype = torch.float32

    @classmethod
    def for_model(cls, model_cfg, cube_mm: Union[float, Sequence[float]] = CUBE_MM, **overrides) -> "CropConfig":
        """The crop a model expects: its ``crop_size``, ``num_points`` and colour order
        (``rgb_input``), with a cube of edge ``cube_mm`` (one number, or x, y, z in mm) and
        any other field given in ``overrides``. Raises ValueError for an unknown ``rgb_input``."""
        if model_cfg.rgb_input not in _BGR_OF_RGB_INPUT:
            raise ValueError(f"model rgb_input must be one of {sorted(_BGR_OF_RGB_INPUT)}, "
                             f"not {model_cfg.rgb_input!r}")
        cube = (float(cube_mm),) * 3 if isinstance(cube_mm, (int, float)) else tuple(float(c) for c in cube_mm)
        if len(cube) != 3:
            raise ValueError(f"cube_mm must be one edge or (x, y, z) mm, got {cube_mm!r}")
        base = cls(crop_size=int(model_cfg.crop_size), num_points=int(model_cfg.num_points), cube_mm=cube,
                   bgr=_BGR_OF_RGB_INPUT[model_cfg.rgb_input])
        return replace(base, **overrides) if overrides else base
