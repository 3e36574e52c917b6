"""Named configurations of the synthetic generator that several tools and tests use.

``clean_scene_config`` is the uncluttered scene: only the hands in the free view (no
background clutter, occluders, held or nearby objects, tables, no hand at the image border)
and no sensor defects. Tests about the node, the pipeline or the localiser's basics, the soak and the
benchmarks' "clean" settings render it, so that what they measure is not the scene's
difficulty. ``clean_frames`` renders it at any size (static, for streaming benchmarks).
"""

from __future__ import annotations

import dataclasses

from . import SceneConfig, SyntheticConfig, render_frame  # the package's public API only

#: SceneConfig fields of the clean scene (everything but the hands switched off).
CLEAN_SCENE = {"clutter": (0, 0), "p_occluder": 0.0, "p_near_object": 0.0, "p_grasp": 0.0, "p_edge": 0.0,
               "p_table": 0.0, "views": (1.0, 0.0, 0.0)}
#: Largest frame rendered directly by :func:`clean_frames` (larger ones are upscaled: rendering is slow).
RENDER_MAX = (640, 480)


def clean_scene_config(width: int, height: int, num_hands: int | None = 1, **overrides) -> SyntheticConfig:
    """The clean scene with ``num_hands`` hands at width×height, sensor defects off (``clean=True``).

    ``overrides`` are :class:`SceneConfig` fields replacing the clean scene's (e.g. ``p_edge=0.12``
    to let hands reach the border again, ``p_left=0.0`` for right hands only).
    """
    scene = SceneConfig(**{**CLEAN_SCENE, "num_hands": num_hands, **overrides})
    return SyntheticConfig(width=width, height=height, clean=True, scene=scene)


def clean_frames(num_hands: int, width: int, height: int, n: int = 1, seed: int = 3) -> list:
    """Frames (HandFrame) 0..n-1 of stream ``seed`` of the clean scene, at width×height.

    Frames larger than :data:`RENDER_MAX` are rendered at that size and upscaled (nearest
    neighbour, intrinsics scaled with them). With n = 1 a stream of ``frames[k % n]`` is a static
    scene: the node's tracker confirms the hands and every frame publishes them (the full
    per-frame work); frames of different scenes put the hands elsewhere every frame.
    """
    base = clean_scene_config(min(width, RENDER_MAX[0]), min(height, RENDER_MAX[1]), num_hands)
    frames = [render_frame(seed, i, base) for i in range(n)]
    if (width, height) == (base.width, base.height):
        return frames
    import cv2

    sx, sy = width / base.width, height / base.height
    return [dataclasses.replace(f, color=cv2.resize(f.color, (width, height), interpolation=cv2.INTER_NEAREST),
                                depth=cv2.resize(f.depth, (width, height), interpolation=cv2.INTER_NEAREST),
                                cam=(f.cam[0] * sx, f.cam[1] * sy, f.cam[2] * sx, f.cam[3] * sy))
            for f in frames]
