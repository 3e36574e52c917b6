"""Synthetic RGB-D hand frames with exact 21-joint labels (pure torch + numpy, no ROS).

Public API::

    from kpfusion_ros.data.synthetic import (
        SyntheticConfig, SceneConfig, SensorModel, SENSORS, get_sensor, HandFrame, FrameBatch,
        render_frame, render_batch, SyntheticHands, render_sequence, SyntheticSequences,
        write_split, SyntheticSplit, OBJECT_INSTANCE)

A frame is a pure function of (seed, index, config) (CPU). See the modules:
:mod:`.hand_model` (procedural hand), :mod:`.scene` (scene sampling),
:mod:`.render` (batched analytic ray casting), :mod:`.sensor` (defects),
:mod:`.generator` (frames), :mod:`.sequence` (smooth motion), :mod:`.split` (disk format).
"""

from .generator import (
    FrameBatch,
    HandFrame,
    SyntheticConfig,
    SyntheticHands,
    frame_seed,
    render_batch,
    render_frame,
)
from .scene import OBJECT_INSTANCE, SceneConfig
from .sensor import SENSORS, SensorModel, get_sensor
from .sequence import SyntheticSequences, render_sequence
from .split import SyntheticSplit, write_split

__all__ = [
    "FrameBatch",
    "HandFrame",
    "OBJECT_INSTANCE",
    "SceneConfig",
    "SENSORS",
    "SensorModel",
    "get_sensor",
    "SyntheticConfig",
    "SyntheticHands",
    "frame_seed",
    "render_batch",
    "render_frame",
    "render_sequence",
    "SyntheticSequences",
    "SyntheticSplit",
    "write_split",
]
