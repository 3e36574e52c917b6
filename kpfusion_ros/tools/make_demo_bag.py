"""Render the demo RGB-D recording (rosbag2, MCAP) from the synthetic generator, bit-for-bit from a seed.

A few seconds at 30 Hz of realsense-ros-like topics: color rgb8, depth 16UC1 (mm)
registered to color, both camera_infos (plumb_bob), all in
``camera_color_optical_frame``; one hand and then two move, one grasps and carries
an object, one passes next to the image border. The ground-truth joints are on a
topic of their own (``/ground_truth/hand_poses``, kpfusion_ros/HandPoseArray in
metres, optical frame; joint_confidence 1 = visible, 0 = occluded or outside the
image; id 0 = the right hand, 1 = the left one). Stamps are
``--start-stamp + i / fps`` (no wall clock anywhere), so the same arguments give
identical bytes::

    kpfusion-make-demo-bag --out data/demo/kpfusion_demo --seed 7
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

DEFAULT_SEED = 7
DEFAULT_FRAMES = 90
DEFAULT_SIZE = (424, 240)  # a RealSense D4xx color/depth profile
DEFAULT_START_S = 1_735_689_600  # 2025-01-01T00:00:00Z (fixed: no wall clock in the content)


def camera_info_msg(header, w: int, h: int, cam):
    from sensor_msgs.msg import CameraInfo

    fx, fy, cx, cy = (float(v) for v in cam)
    info = CameraInfo(header=header, height=h, width=w, distortion_model="plumb_bob")
    info.d = [0.0] * 5
    info.k = [fx, 0.0, cx, 0.0, fy, cy, 0.0, 0.0, 1.0]
    info.r = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    info.p = [fx, 0.0, cx, 0.0, 0.0, fy, cy, 0.0, 0.0, 0.0, 1.0, 0.0]
    return info


def frame_messages(frame, header):
    """(color rgb8, depth 16UC1, camera_info) of a synthetic HandFrame, as realsense-ros publishes them."""
    from sensor_msgs.msg import Image

    h, w = frame.color.shape[:2]
    color = Image(header=header, height=h, width=w, encoding="rgb8", is_bigendian=0, step=w * 3)
    color.data = np.ascontiguousarray(frame.color, dtype=np.uint8).tobytes()
    depth = Image(header=header, height=h, width=w, encoding="16UC1", is_bigendian=0, step=w * 2)
    depth.data = np.ascontiguousarray(frame.depth, dtype="<u2").tobytes()
    return color, depth, camera_info_msg(header, w, h, frame.cam)


def ground_truth_msg(frame, header, min_visible: int = 0):
    """HandPoseArray of the frame's true joints (metres), projected pixels and visibility."""
    from geometry_msgs.msg import Point
    from sensor_msgs.msg import RegionOfInterest

    from kpfusion_ros.msg import HandPose, HandPoseArray

    h, w = frame.color.shape[:2]
    fx, fy, cx, cy = (float(v) for v in frame.cam)
    arr = HandPoseArray(header=header)
    for k in range(len(frame.joints_mm)):
        j = np.asarray(frame.joints_mm[k], dtype=np.float64) / 1000.0
        vis = np.asarray(frame.visible[k], dtype=bool)
        if vis.sum() < min_visible:
            continue
        hp = HandPose()
        hp.id = k
        side = frame.handedness[k] if k < len(frame.handedness) else ""
        hp.handedness = {"left": HandPose.HANDEDNESS_LEFT, "right": HandPose.HANDEDNESS_RIGHT}.get(
            side, HandPose.HANDEDNESS_UNKNOWN)
        hp.confidence = 1.0
        hp.joints = [Point(x=float(p[0]), y=float(p[1]), z=float(p[2])) for p in j]
        z = np.where(j[:, 2] > 1e-6, j[:, 2], np.nan)
        u = j[:, 0] * fx / z + cx
        v = j[:, 1] * fy / z + cy
        hp.pixel_u = u.astype(np.float32)
        hp.pixel_v = v.astype(np.float32)
        hp.joint_confidence = vis.astype(np.float32)
        c = j.mean(axis=0)
        hp.crop_center = Point(x=float(c[0]), y=float(c[1]), z=float(c[2]))
        ok = np.isfinite(u) & np.isfinite(v)
        if ok.any():
            x0 = int(np.clip(np.floor(u[ok].min()), 0, w))
            x1 = int(np.clip(np.ceil(u[ok].max()), 0, w))
            y0 = int(np.clip(np.floor(v[ok].min()), 0, h))
            y1 = int(np.clip(np.ceil(v[ok].max()), 0, h))
            hp.roi = RegionOfInterest(x_offset=x0, y_offset=y0, width=x1 - x0, height=y1 - y0, do_rectify=False)
        arr.hands.append(hp)
    return arr


def make_bag(out: Path, seed: int = DEFAULT_SEED, frames: int = DEFAULT_FRAMES, width: int = DEFAULT_SIZE[0],
             height: int = DEFAULT_SIZE[1], fps: float = 30.0, color_noise: float = 0.0,
             start_stamp_s: int = DEFAULT_START_S, compress: bool = True, overwrite: bool = False,
             progress: bool = True) -> dict:
    """Write the recording to the directory ``out``; returns {topic: count}."""
    from std_msgs.msg import Header
    from tqdm import tqdm

    from kpfusion_ros.data.synthetic import SyntheticConfig, render_sequence
    from dataclasses import replace

    from kpfusion_ros.data.synthetic.sensor import get_sensor
    from kpfusion_ros.ros import bagio

    # a RealSense D435 (the realsense-ros topics of the recording), colour read noise as asked
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
            header = Header(stamp=bagio.time_msg(t), frame_id=bagio.OPTICAL_FRAME)
            color, depth, info = frame_messages(frame, header)
            bag.write(bagio.INFO_TOPIC, bagio.INFO_TYPE, t, info)
            bag.write(bagio.COLOR_TOPIC, bagio.IMAGE_TYPE, t, color)
            bag.write(bagio.DEPTH_INFO_TOPIC, bagio.INFO_TYPE, t, info)
            bag.write(bagio.DEPTH_TOPIC, bagio.IMAGE_TYPE, t, depth)
            bag.write(bagio.GT_TOPIC, bagio.POSES_TYPE, t, ground_truth_msg(frame, header))
        return dict(bag.counts)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kpfusion-make-demo-bag", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, type=Path, help="bag directory to create (rosbag2, MCAP)")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"scene seed (default {DEFAULT_SEED})")
    p.add_argument("--frames", type=int, default=DEFAULT_FRAMES, help=f"frames (default {DEFAULT_FRAMES})")
    p.add_argument("--width", type=int, default=DEFAULT_SIZE[0])
    p.add_argument("--height", type=int, default=DEFAULT_SIZE[1])
    p.add_argument("--fps", type=float, default=30.0)
    p.add_argument("--color-noise", type=float, default=0.0,
                   help="colour sensor noise sigma, 8-bit levels (default 0: compresses ~5x better)")
    p.add_argument("--start-stamp", type=int, default=DEFAULT_START_S,
                   help="stamp of the first frame, integer seconds since the epoch (default 2025-01-01)")
    p.add_argument("--no-compress", action="store_true", help="no MCAP chunk compression")
    p.add_argument("--force", action="store_true", help="replace --out if it exists")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    from kpfusion_ros.ros import bagio

    try:
        counts = make_bag(args.out, args.seed, args.frames, args.width, args.height, args.fps, args.color_noise,
                          args.start_stamp, compress=not args.no_compress, overwrite=args.force,
                          progress=not args.quiet)
    except FileExistsError as exc:
        print(f"error: {exc} (use --force)", file=sys.stderr)
        return 2
    size = bagio.bag_size_bytes(args.out)
    print(f"wrote {args.out} ({size / 1e6:.1f} MB): " + ", ".join(f"{t} {n}" for t, n in counts.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
