"""The demo recording: a rosbag2 (MCAP) rendered from the synthetic generator, bit-for-bit from a seed.

A few seconds at 30 Hz of realsense-ros-like topics: color rgb8, depth 16UC1 (mm)
registered to color, both camera_infos (plumb_bob), all in
``camera_color_optical_frame``; one hand and then two move, one grasps and carries
an object, one passes next to the image border. The ground-truth joints are on a
topic of their own (``/ground_truth/hand_poses``, kpfusion_ros/HandPoseArray in
metres, optical frame; joint_confidence 1 = visible, 0 = occluded or outside the
image; id 0 = the right hand, 1 = the left one). Stamps are ``start_stamp_s + i / fps``
(no wall clock anywhere), so the same arguments give identical bytes. ``kpfusion-make-demo-bag``
is the command line around :func:`make_bag`.
"""

from __future__ import annotations

from pathlib import Path

DEFAULT_SEED = 7
DEFAULT_FRAMES = 90
DEFAULT_SIZE = (424, 240)  # a RealSense D4xx color/depth profile
DEFAULT_START_S = 1_735_689_600  # 2025-01-01T00:00:00Z (fixed: no wall clock in the content)


def make_bag(out: Path, seed: int = DEFAULT_SEED, frames: int = DEFAULT_FRAMES, width: int = DEFAULT_SIZE[0],
             height: int = DEFAULT_SIZE[1], fps: float = 30.0, color_noise: float = 0.0,
             start_stamp_s: int = DEFAULT_START_S, compress: bool = True, overwrite: bool = False,
             progress: bool = True) -> dict:
    """Write the recording to the directory ``out``; returns {topic: count}."""
    from tqdm import tqdm

    from dataclasses import replace

    from kpfusion_ros.data.synthetic import SyntheticConfig, get_sensor, render_sequence
    from kpfusion_ros.ros import bagio
    from kpfusion_ros.ros.hand_frames import frame_messages, ground_truth_msg

    # a RealSense D435 (the recording's realsense-ros topics), colour read noise as asked
    cfg = SyntheticConfig(width=width, height=height,
                          sensor=replace(get_sensor("d435"), read_noise=(color_noise, color_noise)))
    start_ns = int(start_stamp_s) * 1_000_000_000
    with bagio.BagWriter(out, compress=compress, overwrite=overwrite) as bag:
        for topic, typ in ((bagio.INFO_TOPIC, bagio.INFO_TYPE), (bagio.COLOR_TOPIC, bagio.IMAGE_TYPE),
                           (bagio.DEPTH_INFO_TOPIC, bagio.INFO_TYPE), (bagio.DEPTH_TOPIC, bagio.IMAGE_TYPE),
                           (bagio.GT_TOPIC, bagio.POSES_TYPE)):
            bag.add_topic(topic, typ)
        seq = render_sequence(seed, num_frames=frames, fps=fps, config=cfg, device="cpu")
        for i, (_, frame) in enumerate(tqdm(seq, total=frames, desc="rendering", unit="frame", disable=not progress)):
            t = start_ns + int(round(i * 1e9 / fps))
            color, depth, info = frame_messages(frame, t, frame_id=bagio.OPTICAL_FRAME)
            bag.write(bagio.INFO_TOPIC, bagio.INFO_TYPE, t, info)
            bag.write(bagio.COLOR_TOPIC, bagio.IMAGE_TYPE, t, color)
            bag.write(bagio.DEPTH_INFO_TOPIC, bagio.INFO_TYPE, t, info)
            bag.write(bagio.DEPTH_TOPIC, bagio.IMAGE_TYPE, t, depth)
            bag.write(bagio.GT_TOPIC, bagio.POSES_TYPE, t, ground_truth_msg(frame, color.header))
        return dict(bag.counts)
