"""The main job: replay an RGB-D recording through the kpfusion node and report what it did.

1. A player node (this process) publishes the recording's color, depth and
   camera_info on their topics with the recorded timing (reliable, as
   realsense-ros does), and ``/clock`` from the recording's stamps (like
   ``ros2 bag play --clock``).
2. The kpfusion node runs as a separate process (the installed
   ``kpfusion_node``, ``use_sim_time:=true``) with the shipped weights.
3. This process records what the node publishes (hand poses, markers,
   diagnostics, /tf) into an MCAP bag.
4. It prints a summary (frames in/out, dropped, latency, MPJPE against the
   recording's ground truth, matched by stamp and hand centre within 80 mm) and writes to
   ``--out``: ``summary.json``, ``overlay.gif``, ``frame_*.png`` (prediction in
   finger colours, ground truth in white) and ``output_bag/``.

If the node is slower than the camera it drops stale frames (by design: it always
works on the newest); the summary says how many. ``--lockstep`` instead waits for
the node's answer to each frame before sending the next (no drops; for
comparisons). Run it inside ``scripts/hermetic.sh`` (``make demo`` does).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

DEFAULT_BAG = Path("data/demo/kpfusion_demo")
NODE_NAME = "kpfusion"


def build_parser() -> argparse.ArgumentParser:
    from kpfusion_ros.ros import bagio
    from kpfusion_ros.ros.player import STARTUP_TIMEOUT_S

    p = argparse.ArgumentParser(prog="kpfusion-demo", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bag", type=Path, default=None,
                   help=f"rosbag2 recording to play (default: {DEFAULT_BAG}, the bundled demo recording)")
    p.add_argument("--color-topic", default=bagio.COLOR_TOPIC)
    p.add_argument("--depth-topic", default=bagio.DEPTH_TOPIC)
    p.add_argument("--info-topic", default=bagio.INFO_TOPIC)
    p.add_argument("--gt-topic", default=bagio.GT_TOPIC,
                   help="ground-truth HandPoseArray topic (optional in the bag; without it no MPJPE)")
    p.add_argument("--model", default="",
                   help="model_path of the node ('' = shipped weights; random:lite = untrained, for tests)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    p.add_argument("--out", type=Path, default=Path("out/demo"), help="output folder (default out/demo)")
    p.add_argument("--rate", type=float, default=1.0, help="playback rate (1 = real time)")
    p.add_argument("--max-frames", type=int, default=0, help="play at most this many color frames (0 = all)")
    p.add_argument("--lockstep", action="store_true",
                   help="send each frame only after the node answered the previous one (no drops)")
    p.add_argument("--no-tf", action="store_true", help="do not record /tf")
    p.add_argument("--startup-timeout", type=float, default=STARTUP_TIMEOUT_S,
                   help=f"seconds to wait for the node to start (default {STARTUP_TIMEOUT_S:g})")
    p.add_argument("--node-arg", action="append", default=[], metavar="NAME:=VALUE",
                   help="extra node parameter (repeatable), e.g. --node-arg refine_iterations:=0")
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    from kpfusion_ros.ros import bagio

    bag = args.bag or DEFAULT_BAG
    if not (Path(bag) / "metadata.yaml").is_file():
        print(f"error: no rosbag2 recording at {bag} (metadata.yaml missing). Give one with --bag, or make the demo "
              f"recording: kpfusion-make-demo-bag --out {DEFAULT_BAG}", file=sys.stderr)
        return 2
    try:
        topics = bagio.check_camera_topics(bag, args.color_topic, args.depth_topic, args.info_topic)
    except bagio.TopicError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if os.environ.get("KPF_IN_NETNS") != "1":
        print("note: not inside scripts/hermetic.sh: DDS traffic is visible on this machine's network "
              "(make demo runs it hermetically)", file=sys.stderr)
    has_gt = args.gt_topic in topics and topics[args.gt_topic].msgtype == bagio.POSES_TYPE
    n_color = topics[args.color_topic].count
    if args.max_frames > 0:
        n_color = min(n_color, args.max_frames)
    args.out.mkdir(parents=True, exist_ok=True)
    model_note = args.model or "shipped weights"
    if not args.model:
        from kpfusion_ros.pipeline import default_model_path

        local = Path("models/kpfusion_lite.pt")  # source tree (make demo runs from the repository root)
        if default_model_path() is None and local.is_file():
            args.model = str(local.resolve())
            model_note = f"shipped weights ({local}, not installed in the colcon install: rebuild to install it)"
        elif default_model_path() is None:
            model_note = "UNTRAINED random:lite (shipped weights models/kpfusion_lite.pt not found)"
            print("warning: the shipped weights (models/kpfusion_lite.pt) are not installed: the node runs "
                  "UNTRAINED random weights; poses and MPJPE are meaningless", file=sys.stderr)
    return _run(args, Path(bag), topics, has_gt, n_color, model_note)


def _run(args, bag: Path, topics: dict, has_gt: bool, n_color: int, model_note: str) -> int:
    from tqdm import tqdm

    from kpfusion_ros.demo.overlay import recording_overlays, write_images
    from kpfusion_ros.demo.scoring import score
    from kpfusion_ros.demo.summary import format_summary, summarize, write_summary
    from kpfusion_ros.ros import bagio
    from kpfusion_ros.ros.harness import param_dict
    from kpfusion_ros.ros.player import replay

    play = {t: topics[t].msgtype for t in (args.info_topic, args.color_topic, args.depth_topic)}
    from kpfusion_ros.node_config import CAMERA_INFO_TOPIC, COLOR_TOPIC, DEPTH_TOPIC

    remaps = {COLOR_TOPIC: args.color_topic, DEPTH_TOPIC: args.depth_topic, CAMERA_INFO_TOPIC: args.info_topic}
    params = {"device": args.device}
    if args.model:
        params["model_path"] = args.model
    try:
        params.update(param_dict(args.node_arg))
    except ValueError as exc:
        print(f"error: --node-arg: {exc}", file=sys.stderr)
        return 2
    print(f"[demo] starting the kpfusion node ({model_note}, device {args.device}) and playing {bag} "
          f"({n_color} frames at rate {args.rate}{', lockstep' if args.lockstep else ''})", file=sys.stderr)
    try:
        res = replay(bag, play, args.color_topic, params, args.out / "output_bag", n_color, remaps=remaps, rate=args.rate,
                     lockstep=args.lockstep, record_tf=not args.no_tf, node_name=NODE_NAME,
                     startup_timeout=args.startup_timeout,
                     say=lambda text: tqdm.write(f"[demo] {text}", file=sys.stderr),
                     echo=lambda line: tqdm.write(f"[kpfusion] {line.rstrip()}", file=sys.stderr))
    except KeyboardInterrupt:
        return 130
    except (RuntimeError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    preds, latency_ms = res.recorder.predictions()
    gt = bagio.read_stamped(bag, args.gt_topic) if has_gt else {}
    frames, fps = recording_overlays(bag, args.color_topic, res.played, gt, preds)
    files = write_images(args.out, frames, set(preds), fps)
    summary = summarize(bag=bag, model=model_note, device=args.device, rate=args.rate, lockstep=args.lockstep,
                        played=res.played, diag=res.diag, n_out=len(preds), latency_ms=latency_ms,
                        scores=score(gt, preds) if has_gt else None, output_counts=res.recorder.writer.counts,
                        files=files, wall_s=res.wall_s)
    write_summary(args.out / "summary.json", summary)
    print(format_summary(dict(summary, out=str(args.out))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
