"""Joints between the camera frame and a crop: training labels, and the inverse mapping of predictions.

:func:`labels_from_joints` brings ground-truth joints (camera mm) into the frame of their crop
(mirrored for left hands, normalised); :func:`predictions_to_camera` maps the network's output
back to camera-frame metres and image pixels, undoing the mirroring the same way (reference §3).
"""

from __future__ import annotations

import torch

from kpfusion_ros.geometry import mirror_points_mm, mm_to_xyz_nl, project, xyz_nl_to_mm, xyz_nl_to_uvd_nl

from .crop import CropBatch

__all__ = ["HIDDEN_MAX_SEEN", "SEEN_DZ_MM", "labels_from_joints", "predictions_to_camera", "seen_joints",
           "sensed_share"]

#: A labelled joint is **seen** when the observed surface at its pixel lies at most this far (mm) in front of it:
#: the joint centre is inside a finger or the palm with nothing else before it (not an object, the back of the
#: hand, another finger). The real-frame report counts seen joints on full frames
#: (``real_frames.label_depth_offsets``), the training crops on crops (:func:`seen_joints`).
SEEN_DZ_MM = 20.0
#: A hand counts as **hidden** when it shows at most this many seen joints (of 21).
HIDDEN_MAX_SEEN = 6


def sensed_share(depth: torch.Tensor, hand_mask: torch.Tensor) -> torch.Tensor:
    """Per image (K, float): the share of a hand's rendered pixels (``hand_mask`` K×H×W bool: where the hand's own
    surface is the first hit) at which the sensor gave a depth (``depth`` K×H×W, 0 = none). A hand behind an object
    keeps a high share (what is visible of it has depth); a hand nearer than the sensor's range, or lost to its
    dropouts, a low one. 1 where no pixel of the hand is visible (nothing the sensor could have missed)."""
    m = hand_mask.reshape(hand_mask.shape[0], -1)
    with_depth = (m & (depth.reshape(depth.shape[0], -1) > 0)).sum(1).to(torch.float32)
    n = m.sum(1).to(torch.float32)
    return torch.where(n > 0, with_depth / n.clamp(min=1.0), torch.ones_like(n))


def _mirror_rows(xyz_mm: torch.Tensor, batch: CropBatch) -> torch.Tensor:
    """Mirror (an involution) the rows of K×P×3 points (mm) whose hand is mirrored."""
    if not bool(batch.mirrored.any()):
        return xyz_mm
    cam = batch.cam.to(xyz_mm)
    mirrored = mirror_points_mm(xyz_mm, cam, batch.image_size[1])
    return torch.where(batch.mirrored.view(-1, 1, 1), mirrored, xyz_mm)


def labels_from_joints(joints_mm: torch.Tensor, batch: CropBatch) -> tuple[torch.Tensor, torch.Tensor]:
    """Training targets from GT joints K×21×3 (mm, real camera frame) (reference §3 "Augmentation", labels).

    Mirrored hands have their joints mirrored like the image (u ↦ W − 1 − u and re-lifted,
    reference §3 "Left hands"); then xyz_nl = (j − c)/(cube/2) and uvd_nl by projection
    through M (:func:`kpfusion_ros.geometry.xyz_nl_to_uvd_nl`). Returns (xyz_nl, uvd_nl),
    both K×21×3. The authors normalise xyz by cube_z/2 for all axes; with the isotropic
    cube (the only one they use) this is identical.
    """
    j = _mirror_rows(joints_mm.to(batch.center), batch)
    xyz_nl = mm_to_xyz_nl(j, batch.center, batch.cube)
    uvd_nl = xyz_nl_to_uvd_nl(xyz_nl, batch.center, batch.M, batch.cube, batch.cam, batch.crop_size)
    return xyz_nl, uvd_nl


def predictions_to_camera(xyz_nl: torch.Tensor, batch: CropBatch) -> tuple[torch.Tensor, torch.Tensor]:
    """Network output K×J×3 xyz_nl → (camera-frame metres K×J×3, full-image pixels K×J×2).

    xyz_mm = xyz_nl·cube/2 + center; mirrored hands are un-mirrored with the same
    u ↦ W − 1 − u re-lift that built their labels (so GT labels map back exactly; the
    1 px convention quirk of reference §7.13 cancels); pixels are the pinhole projection
    of the un-mirrored points with the original intrinsics. This is what the node publishes.
    """
    xyz_mm = _mirror_rows(xyz_nl_to_mm(xyz_nl.to(batch.center), batch.center, batch.cube), batch)
    uv = project(xyz_mm, batch.cam.to(xyz_mm))
    return xyz_mm / 1000.0, uv



def seen_joints(joints_mm: torch.Tensor, batch: CropBatch, max_dz_mm: float = SEEN_DZ_MM) -> torch.Tensor:
    """Seen joints per crop (K, int64) of GT joints K×21×3 (mm, camera frame) in their own crops: the joint
    falls inside the crop on a pixel with depth (not background), and that depth lies at most ``max_dz_mm``
    in front of it (:data:`SEEN_DZ_MM`). Depth clamped at the cube's front face counts as in front."""
    _, uvd = labels_from_joints(joints_mm, batch)
    depth = batch.depth[:, 0]
    S = depth.shape[-1]
    px = torch.floor((uvd[..., :2] + 1.0) * (S / 2.0))
    inside = ((px >= 0) & (px < S)).all(-1)
    col, row = (px.clamp(0, S - 1).long().unbind(-1))
    k = torch.arange(depth.shape[0], device=depth.device).view(-1, 1).expand_as(col)
    d = depth[k, row, col].to(uvd)
    surface = d < 1.0 - 1e-5                                            # background and far depth are +1
    dz_mm = (uvd[..., 2] - d) * (batch.cube[:, 2:3].to(uvd) / 2.0)
    return (inside & surface & (dz_mm <= max_dz_mm)).sum(-1)
