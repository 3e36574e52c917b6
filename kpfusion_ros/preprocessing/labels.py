"""Joints between the camera frame and a crop: training labels, and the inverse mapping of predictions.

:func:`labels_from_joints` brings ground-truth joints (camera mm) into the frame of their crop
(mirrored for left hands, normalised); :func:`predictions_to_camera` maps the network's output
back to camera-frame metres and image pixels, undoing the mirroring the same way (reference §3).
"""

from __future__ import annotations

import torch

from kpfusion_ros.geometry import mirror_points_mm, mm_to_xyz_nl, project, xyz_nl_to_mm, xyz_nl_to_uvd_nl

from .crop import CropBatch

__all__ = ["labels_from_joints", "predictions_to_camera"]


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

