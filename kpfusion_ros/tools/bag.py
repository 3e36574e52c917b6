"""Process a rosbag2 recording offline: the node's pipeline frame by frame, no DDS, as fast as possible.

Reads color, depth and camera_info from INPUT (sqlite3 or MCAP), synchronizes them
with the same ApproximateTimeSynchronizer as the node (message_filters, fed in the
bag's order), runs localisation, tracking and the network through the node's own
FrameProcessor (so the joints equal the live node's on the same frames), and writes
one kpfusion_ros/HandPoseArray per synchronized frame (header = the color image's)
and its MarkerArray into the new bag OUTPUT (MCAP), optionally a CSV of the joints::

    kpfusion-bag recording/ poses_bag/ --csv joints.csv
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from kpfusion_ros.node_config import NodeConfig, pipeline_config


def parse_params(items: list[str]) -> dict:
    """['name=value' or 'name:=value'] -> {name: value of the parameter's type}."""
    types = {name: typ for name, _, typ, *_ in NodeConfig.field_specs()}
    out = {}
    for item in items:
        name, sep, value = item.replace(":=", "=", 1).partition("=")
        name = name.strip()
        if not sep or name not in types:
            raise ValueError(f"bad --param {item!r}: expected NAME=VALUE with NAME one of {sorted(types)}")
        typ = types[name]
        if typ is bool:
            if value.lower() not in ("true", "false", "1", "0"):
                raise ValueError(f"--param {name} takes true or false, not {value!r}")
            out[name] = value.lower() in ("true", "1")
        else:
            out[name] = typ(value)
    return out


def build_parser() -> argparse.ArgumentParser:
    from kpfusion_ros.evaluation.matching import MATCH_MM
    from kpfusion_ros.ros import bagio
    from kpfusion_ros.ros.offline import CSV_HEADER

    d = NodeConfig()
    p = argparse.ArgumentParser(prog="kpfusion-bag", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("input", type=Path, help="rosbag2 directory (sqlite3 or MCAP) with color, depth and camera_info")
    p.add_argument("output", type=Path, help="bag directory to create (MCAP)")
    p.add_argument("--color-topic", default=bagio.COLOR_TOPIC)
    p.add_argument("--depth-topic", default=bagio.DEPTH_TOPIC)
    p.add_argument("--info-topic", default=bagio.INFO_TOPIC)
    p.add_argument("--output-ns", default="/kpfusion",
                   help="namespace of the output topics: <ns>/hand_poses, <ns>/markers (default /kpfusion, as the node)")
    p.add_argument("--model", default=d.model_path, help="model file ('' = shipped weights; random:lite = untrained)")
    p.add_argument("--device", default="cpu", help="auto, cpu, cuda or cuda:N (default cpu)")
    p.add_argument("--csv", type=Path, default=None, help="also write the joints as CSV (" + ", ".join(CSV_HEADER) + ")")
    p.add_argument("--slop", type=float, default=d.slop, help=f"synchronization window, s (default {d.slop})")
    p.add_argument("--queue-size", type=int, default=d.queue_size, help=f"synchronizer queue (default {d.queue_size})")
    p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                   help="any other node parameter (repeatable; same names as the node's, e.g. refine_iterations=0)")
    p.add_argument("--max-frames", type=int, default=0, help="stop after this many synchronized frames (0 = all)")
    p.add_argument("--every", type=int, default=1, metavar="N",
                   help="process only every N-th synchronized set (N > 1 emulates a live node that drops "
                        "frames: the tracker sees the hands move N frames between updates)")
    p.add_argument("--score", action="store_true",
                   help="score the output against the recording's ground-truth HandPoseArray topic (--gt-topic) "
                        f"as kpfusion-demo does: MPJPE of the hands found within {MATCH_MM:g} mm, misses, false hands")
    p.add_argument("--gt-topic", default=bagio.GT_TOPIC, help=f"ground-truth topic for --score (default {bagio.GT_TOPIC})")
    p.add_argument("--force", action="store_true", help="replace OUTPUT if it exists")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    from dataclasses import replace

    from kpfusion_ros.runtime import keep_freed_buffers

    keep_freed_buffers()  # as the node does: every frame's large buffers are reused, not re-faulted

    from tqdm import tqdm

    from kpfusion_ros.ros import bagio

    if not (args.input / "metadata.yaml").is_file():
        print(f"error: {args.input} is not a rosbag2 directory (no metadata.yaml)", file=sys.stderr)
        return 2
    try:
        topics = bagio.check_camera_topics(args.input, args.color_topic, args.depth_topic, args.info_topic)
    except bagio.TopicError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.every < 1:
        print("error: --every must be >= 1", file=sys.stderr)
        return 2
    if args.score and args.gt_topic not in bagio.bag_topics(args.input):
        print(f"error: --score needs the ground-truth topic {args.gt_topic} in {args.input} (--gt-topic)",
              file=sys.stderr)
        return 2
    if args.output.exists() and not args.force:
        print(f"error: {args.output} exists (use --force to replace it)", file=sys.stderr)
        return 2
    try:
        overrides = parse_params(args.param)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    cfg = replace(NodeConfig(), **{**overrides, "model_path": args.model, "device": args.device, "slop": args.slop,
                                   "queue_size": args.queue_size})
    errs = cfg.validate()
    if errs:
        print("error: " + "; ".join(errs), file=sys.stderr)
        return 2

    from cv_bridge import CvBridge

    from kpfusion_ros.pipeline import HandPosePipeline, ModelLoadError
    from kpfusion_ros.ros.offline import process_bag
    from kpfusion_ros.ros.processing import FrameProcessor, processing_options

    try:
        pipeline = HandPosePipeline(pipeline_config(cfg))
    except (ModelLoadError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if pipeline.device_warning:
        print(f"warning: {pipeline.device_warning}", file=sys.stderr)
    print(f"model: {pipeline.model_description} on {pipeline.device}", file=sys.stderr)
    warned = set()

    def warn(key, text):
        if key not in warned:
            warned.add(key)
            tqdm.write(f"warning [{key}]: {text}", file=sys.stderr)

    processor = FrameProcessor(pipeline, CvBridge(), processing_options(cfg), warn)
    pbar = tqdm(total=topics[args.color_topic].count, desc="processing", unit="frame", disable=args.quiet,
                file=sys.stderr)
    try:
        stats, predictions = process_bag(
            processor, args.input, args.output, args.color_topic, args.depth_topic, args.info_topic,
            queue_size=cfg.queue_size, slop=cfg.slop, output_ns=args.output_ns, every=args.every,
            max_frames=args.max_frames, csv_path=args.csv, overwrite=args.force, keep_poses=args.score,
            on_message=lambda topic: pbar.update(1) if topic == args.color_topic else None,
            on_frame=lambda fr: pbar.set_postfix(hands=len(fr.poses.hands)),
            on_bad=lambda color, exc: tqdm.write(f"frame {bagio.stamp_ns(color.header.stamp) / 1e9:.6f} skipped: "
                                                 f"{exc}", file=sys.stderr))
    finally:
        pbar.close()
    ns = "/" + args.output_ns.strip("/")
    print(f"{stats.synchronized} synchronized frames"
          + (f" ({stats.skipped} skipped: --every {args.every})" if args.every > 1 else "")
          + f", {stats.written} HandPoseArray written ({stats.hands} hands), {stats.bad} bad; "
          f"{args.output}: {ns}/hand_poses, {ns}/markers" + (f"; joints in {args.csv}" if args.csv else ""))
    if args.score:
        from kpfusion_ros.demo.scoring import score

        r = score(bagio.read_stamped(args.input, args.gt_topic), predictions)
        mp = "n/a" if r["mpjpe_mm"] is None else f"{r['mpjpe_mm']:.1f} mm mean, {r['mpjpe_mm_median']:.1f} mm median"
        print(f"score: MPJPE {mp} over {r['matched_hands']}/{r['gt_hands']} ground-truth hands found "
              f"(same stamp, centres within {r['match_centre_mm']:.0f} mm); {r['false_positives']} false hands; "
              f"{r['scored_frames']} frames scored; side of the found hands: {r['handedness']['correct']} correct, "
              f"{r['handedness']['wrong']} wrong, {r['handedness']['unknown']} UNKNOWN")
    return 0


if __name__ == "__main__":
    sys.exit(main())
