"""RGB-D hand crops, depth normalisation and point clouds for Keypoint-Fusion (reference §3).

What the network eats per hand (reference §1 "Inputs", §3 "Sample tuple"):
a 3×S×S colour crop in [0, 1], a 1×S×S normalised depth crop in [−1, 1] with
background +1, N points in ``xyz_nl``, the crop centre (mm), the full-image → crop
affine ``M``, the cube (mm) and the original intrinsics (fx, fy, cx, cy).

One module per job:

* :mod:`.config` — :class:`CropConfig` (and :data:`CUBE_MM`, the cube's one default);
  :meth:`CropConfig.for_model` gives the settings a model was built for;
* :mod:`.bounds` — crop geometry: bounds, resize and paste, ``M``, OpenCV's nearest indices
  (host, float64, vectorised over the hands);
* :mod:`.depth_points` — depth normalisation, foreground, lifting pixels to points, sampling N;
* :mod:`.crop` — :func:`crop_hands`, the batched crop of K hands of one frame (CPU or CUDA);
* :mod:`.labels` — joints into a crop's frame (training labels) and predictions back to the
  camera (:func:`predictions_to_camera`).

Conventions are those of :mod:`kpfusion_ros.geometry` (the single place where coordinates
change frame); cameras are taken in any form of :mod:`kpfusion_ros.camera`. Quirks of the
authors reproduced on purpose are marked "QUIRK" in the docstrings.
"""

from .bounds import CropGeometry, crop_bounds, crop_geometry, crop_matrix, nearest_indices
from .config import CUBE_MM, CropConfig
from .crop import CropBatch, crop_batch_from_canvas, crop_hands
from .depth_points import (depth_to_points, foreground_mask, foreground_points_mask, lift_pixels, normalize_depth,
                           sample_indices, sample_points)
from .labels import HIDDEN_MAX_SEEN, SEEN_DZ_MM, labels_from_joints, predictions_to_camera, seen_joints, sensed_share

__all__ = [
    "CUBE_MM",
    "CropConfig",
    "CropGeometry",
    "CropBatch",
    "crop_bounds",
    "crop_geometry",
    "crop_matrix",
    "nearest_indices",
    "normalize_depth",
    "foreground_mask",
    "foreground_points_mask",
    "lift_pixels",
    "depth_to_points",
    "sample_indices",
    "sample_points",
    "crop_hands",
    "crop_batch_from_canvas",
    "labels_from_joints",
    "seen_joints",
    "sensed_share",
    "SEEN_DZ_MM",
    "HIDDEN_MAX_SEEN",
    "predictions_to_camera",
]
