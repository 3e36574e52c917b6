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
import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Optional

import numpy as np

DEFAULT_BAG = Path("data/demo/kpfusion_demo")
NODE_NAME = "kpfusion"
MIN_VISIBLE = 5  # ground-truth hands with fewer visible joints are not scored
MATCH_M = 0.08  # a prediction whose joint mean is farther from the ground truth's is not that hand


# --------------------------------------------------------------------------------------------------
# analysis (ROS-message level, no DDS)
def poses_arrays(msg) -> list[tuple[int, np.ndarray, np.ndarray, np.ndarray]]:
    """[(id, joints (21,3) m, pixels (21,2), joint_confidence (21,))] of a HandPoseArray."""
    out = []
    for h in msg.hands:
        j = np.array([[p.x, p.y, p.z] for p in h.joints], dtype=np.float64)
        px = np.stack([np.asarray(h.pixel_u, dtype=np.float64), np.asarray(h.pixel_v, dtype=np.float64)], axis=1)
        out.append((int(h.id), j, px, np.asarray(h.joint_confidence, dtype=np.float64)))
    return out


def match_hands(gt: list, pred: list, max_centre_m: float = MATCH_M) -> list[tuple[int, int, float]]:
    """Greedy one-to-one matching of ground-truth to predicted hands by joint-mean (centre) distance.

    Pairs farther apart than ``max_centre_m`` are not matched: the ground-truth hand is *missed*
    and the prediction a *false positive* (the evaluation's real-use protocol uses the same
    80 mm gate, kpfusion_ros.evaluation). Returns [(gt index, pred index, centre distance m)].
    """
    from kpfusion_ros.tracking import joint_mean  # non-finite joints ignored

    pairs = []
    for gi, g in enumerate(gt):
        cg = joint_mean(g[1])
        for pi, p in enumerate(pred):
            d = float(np.linalg.norm(cg - joint_mean(p[1])))
            if np.isfinite(d) and d <= max_centre_m:
                pairs.append((d, gi, pi))
    pairs.sort()
    used_g, used_p, out = set(), set(), []
    for d, gi, pi in pairs:
        if gi in used_g or pi in used_p:
            continue
        used_g.add(gi)
        used_p.add(pi)
        out.append((gi, pi, d))
    return out


def score(gt_by_stamp: dict, pred_by_stamp: dict, min_visible: int = MIN_VISIBLE,
          max_centre_m: float = MATCH_M) -> dict:
    """MPJPE (mm) of the predicted hands matched to ground truth (same stamp, centres ≤ ``max_centre_m``).

    Over the frames with output: ground-truth hands with at least ``min_visible`` visible joints are
    scored; unmatched ones count as missed, unmatched predictions as false positives.
    """
    errs, n_gt, n_matched, n_pred, frames = [], 0, 0, 0, 0
    for stamp, pmsg in pred_by_stamp.items():
        gmsg = gt_by_stamp.get(stamp)
        if gmsg is None:
            continue
        frames += 1
        gt = [g for g in poses_arrays(gmsg) if (g[3] > 0.5).sum() >= min_visible]
        pred = poses_arrays(pmsg)
        n_gt += len(gt)
        n_pred += len(pred)
        for gi, pi, _ in match_hands(gt, pred, max_centre_m):
            d = np.linalg.norm(gt[gi][1] - pred[pi][1], axis=1) * 1000.0
            errs.append(float(np.nanmean(d)))
            n_matched += 1
    e = np.asarray(errs)
    return {"scored_frames": frames, "gt_hands": n_gt, "matched_hands": n_matched, "missed_hands": n_gt - n_matched,
            "false_positives": n_pred - n_matched, "match_centre_mm": max_centre_m * 1000.0,
            "mpjpe_mm": float(e.mean()) if e.size else None,
            "mpjpe_mm_median": float(np.median(e)) if e.size else None}


def draw_overlay(rgb: np.ndarray, gt_msg, pred_msg, text: str) -> np.ndarray:
    """Ground truth as thin white skeletons, predictions in finger colours with id/confidence."""
    import cv2

    from kpfusion_ros.draw import draw_skeleton
    from kpfusion_ros.joints import BONES

    img = np.ascontiguousarray(rgb, dtype=np.uint8).copy()
    if gt_msg is not None:
        for _, _, px, _ in poses_arrays(gt_msg):
            ok = np.all(np.isfinite(px), axis=1) & (np.abs(px) < 1e5).all(axis=1)
            ip = np.zeros_like(px, dtype=np.int64)
            ip[ok] = np.round(px[ok]).astype(np.int64)
            for p, c in BONES:
                if ok[p] and ok[c]:
                    cv2.line(img, tuple(map(int, ip[p])), tuple(map(int, ip[c])), (255, 255, 255), 1, cv2.LINE_AA)
    if pred_msg is not None:
        for h in pred_msg.hands:
            px = np.stack([np.asarray(h.pixel_u, dtype=np.float64), np.asarray(h.pixel_v, dtype=np.float64)], axis=1)
            roi = (h.roi.x_offset, h.roi.y_offset, h.roi.width, h.roi.height)
            draw_skeleton(img, px, label=f"{h.id}: {h.confidence:.2f}", roi=roi, thickness=2)
    cv2.putText(img, text, (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(img, text, (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (255, 255, 0), 1, cv2.LINE_AA)
    return img


def write_images(out: Path, frames: list[tuple[int, np.ndarray]], has_pred: set, fps: float,
                 n_png: int = 4) -> dict:
    """overlay.gif (all frames) and n_png PNGs spread over the frames with output."""
    import cv2
    from PIL import Image as PILImage

    files = {}
    if not frames:
        return files
    step = max(1, int(math.ceil(len(frames) / 150)))
    sel = frames[::step]
    pil = [PILImage.fromarray(img).quantize(colors=128, method=PILImage.Quantize.MEDIANCUT) for _, img in sel]
    gif = out / "overlay.gif"
    pil[0].save(gif, save_all=True, append_images=pil[1:], duration=int(round(1000.0 * step / fps)), loop=0,
                optimize=False)
    files["gif"] = gif.name
    cands = [(s, img) for s, img in frames if s in has_pred] or frames
    idx = np.unique(np.linspace(0, len(cands) - 1, min(n_png, len(cands))).round().astype(int))
    pngs = []
    for k, i in enumerate(idx):
        p = out / f"frame_{k:02d}.png"
        cv2.imwrite(str(p), cv2.cvtColor(cands[i][1], cv2.COLOR_RGB2BGR))
        pngs.append(p.name)
    files["png"] = pngs
    return files


# --------------------------------------------------------------------------------------------------
class _SimClock:
    """Publishes /clock: held at ``base`` until started, then base + elapsed × rate (or set explicitly)."""

    def __init__(self, pub, rate: float, period: float = 0.02):
        self.pub, self.rate, self.period = pub, rate, period
        self.base_ns: Optional[int] = None
        self.anchor: Optional[float] = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._loop, name="clock", daemon=True)

    def now_ns(self) -> int:
        with self._lock:
            if self.base_ns is None:
                return 0
            if self.anchor is None:
                return self.base_ns
            return self.base_ns + int((time.monotonic() - self.anchor) * 1e9 * self.rate)

    def hold(self, ns: int) -> None:
        with self._lock:
            self.base_ns, self.anchor = int(ns), None
        self._publish()

    def run_from(self, ns: int, anchor: float) -> None:
        with self._lock:
            self.base_ns, self.anchor = int(ns), anchor

    def _publish(self) -> None:
        from rosgraph_msgs.msg import Clock

        from kpfusion_ros.ros.bagio import time_msg

        ns = self.now_ns()
        if ns > 0:
            try:
                self.pub.publish(Clock(clock=time_msg(ns)))
            except Exception:
                pass

    def _loop(self) -> None:
        while not self._stop.wait(self.period):
            self._publish()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)


class _Recorder:
    """Raw subscriptions to the node's outputs, written to the output bag as they arrive."""

    def __init__(self, node, writer, topics: list[tuple[str, str]], clock: _SimClock, poses_topic: str):
        from rclpy.qos import QoSProfile, ReliabilityPolicy

        from kpfusion_ros.ros.bagio import msg_class

        self.writer, self.clock, self.poses_topic = writer, clock, poses_topic
        self.lock = threading.Lock()
        self.poses: list[tuple[int, bytes]] = []  # (receive sim time ns, raw)
        self.diags: list[tuple[float, bytes]] = []  # (receive wall monotonic, raw)
        self.subs = {}
        qos = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
        for topic, typ in topics:
            writer.add_topic(topic, typ)
            self.subs[topic] = node.create_subscription(msg_class(typ), topic,
                                                        lambda raw, t=topic, ty=typ: self._cb(t, ty, raw), qos,
                                                        raw=True)

    def _cb(self, topic: str, typ: str, raw: bytes) -> None:
        t = self.clock.now_ns()
        with self.lock:
            self.writer.write_raw(topic, typ, t, raw)
            if topic == self.poses_topic:
                self.poses.append((t, raw))
            elif topic == "/diagnostics":
                self.diags.append((time.monotonic(), raw))

    def n_poses(self) -> int:
        with self.lock:
            return len(self.poses)

    def last_diag(self, after: float = -1.0) -> Optional[dict]:
        from kpfusion_ros.ros.bagio import deserialize

        with self.lock:
            items = [raw for t, raw in self.diags if t > after]
        for raw in reversed(items):
            msg = deserialize(raw, "diagnostic_msgs/msg/DiagnosticArray")
            for st in msg.status:
                if "hand pose" in st.name:
                    return {kv.key: _num(kv.value) for kv in st.values}
        return None


def _num(v: str):
    try:
        f = float(v)
    except ValueError:
        return v
    return int(f) if f.is_integer() and "." not in v and "n" not in v.lower() else f


def node_executable() -> Path:
    from ament_index_python.packages import get_package_prefix

    return Path(get_package_prefix("kpfusion_ros")) / "lib" / "kpfusion_ros" / "kpfusion_node"


def _pipe_lines(stream, prefix: str, sink: list) -> None:
    from tqdm import tqdm

    for line in iter(stream.readline, ""):
        line = line.rstrip()
        if line:
            sink.append(line)
            tqdm.write(f"{prefix}{line}", file=sys.stderr)


# --------------------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    from kpfusion_ros.ros import bagio

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
    p.add_argument("--startup-timeout", type=float, default=180.0, help="seconds to wait for the node to start")
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
    wanted = {args.color_topic: (bagio.IMAGE_TYPE, "--color-topic"), args.depth_topic: (bagio.IMAGE_TYPE, "--depth-topic"),
              args.info_topic: (bagio.INFO_TYPE, "--info-topic")}
    try:
        topics = bagio.check_topics(bag, wanted)
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
    import rclpy
    from rclpy.executors import MultiThreadedExecutor
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from tqdm import tqdm

    from kpfusion_ros.ros import bagio

    poses_topic, markers_topic = f"/{NODE_NAME}/hand_poses", f"/{NODE_NAME}/markers"
    play_topics = [args.info_topic, args.color_topic, args.depth_topic]
    out_bag = args.out / "output_bag"
    writer = bagio.BagWriter(out_bag, overwrite=True)
    rclpy.init(args=[])
    node = rclpy.create_node("kpfusion_demo_player")
    reliable = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
    from rosgraph_msgs.msg import Clock

    clock = _SimClock(node.create_publisher(Clock, "/clock", reliable), args.rate)
    pubs = {t: node.create_publisher(bagio.msg_class(topics[t].msgtype), t, reliable) for t in play_topics}
    rec_topics = [(poses_topic, bagio.POSES_TYPE), (markers_topic, bagio.MARKERS_TYPE),
                  ("/diagnostics", "diagnostic_msgs/msg/DiagnosticArray")]
    if not args.no_tf:
        rec_topics.append(("/tf", "tf2_msgs/msg/TFMessage"))
    recorder = _Recorder(node, writer, rec_topics, clock, poses_topic)
    executor = MultiThreadedExecutor(num_threads=2)
    executor.add_node(node)
    spin = threading.Thread(target=executor.spin, daemon=True)
    spin.start()

    cmd = [sys.executable, str(node_executable()), "--ros-args", "-r", f"__node:={NODE_NAME}",
           "-p", "use_sim_time:=true", "-p", f"color_topic:={args.color_topic}",
           "-p", f"depth_topic:={args.depth_topic}", "-p", f"camera_info_topic:={args.info_topic}",
           "-p", f"device:={args.device}"]
    if args.model:
        cmd += ["-p", f"model_path:={args.model}"]
    for extra in args.node_arg:
        cmd += ["-p", extra]
    env = dict(os.environ, PYTHONUNBUFFERED="1", RCUTILS_COLORIZED_OUTPUT="0")
    node_log: list[str] = []
    t_start = time.monotonic()
    print(f"[demo] starting the kpfusion node ({model_note}, device {args.device}) and playing {bag} "
          f"({n_color} frames at rate {args.rate}{', lockstep' if args.lockstep else ''})", file=sys.stderr)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    reader = threading.Thread(target=_pipe_lines, args=(proc.stdout, "[kpfusion] ", node_log), daemon=True)
    reader.start()
    rc = 0
    played = 0
    first_ns = None
    try:
        # hold /clock at the first stamp until the node is up and matched on every topic
        first_iter = bagio.read_messages(bag, [args.color_topic])
        first_ns = next(first_iter)[2]
        first_iter.close()
        clock.hold(first_ns)
        clock.start()
        deadline = time.monotonic() + args.startup_timeout
        while True:
            ready = (all(p.get_subscription_count() > 0 for p in pubs.values())
                     and recorder.subs[poses_topic].get_publisher_count() > 0
                     and clock.pub.get_subscription_count() > 0)
            if ready:
                break
            if proc.poll() is not None:
                raise RuntimeError(f"the kpfusion node exited during start-up (code {proc.returncode}); see its log above")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the kpfusion node did not subscribe within {args.startup_timeout:.0f} s")
            time.sleep(0.1)
        time.sleep(0.5)
        t_ready = time.monotonic()
        tqdm.write(f"[demo] node ready after {t_ready - t_start:.1f} s; playing", file=sys.stderr)

        pbar = tqdm(total=n_color, desc="playing", unit="frame", file=sys.stderr, dynamic_ncols=True)
        cut_ns = None
        anchor = None
        last_t = None
        for topic, typ, t, raw in bagio.read_messages(bag, play_topics):
            if cut_ns is not None and t > cut_ns:
                break
            if args.lockstep:
                if last_t is not None and t != last_t and played > 0:
                    end = time.monotonic() + 60.0
                    while recorder.n_poses() < played and time.monotonic() < end and proc.poll() is None:
                        time.sleep(0.01)
                clock.hold(t)
            else:
                if anchor is None:
                    anchor = time.monotonic()
                    clock.run_from(t, anchor)
                    first_ns = t
                delay = anchor + (t - first_ns) / 1e9 / args.rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            last_t = t
            pubs[topic].publish(bytes(raw))
            if topic == args.color_topic:
                played += 1
                pbar.update(1)
                pbar.set_postfix(out=recorder.n_poses())
                if played >= n_color:
                    cut_ns = t
            if proc.poll() is not None:
                raise RuntimeError(f"the kpfusion node exited while playing (code {proc.returncode})")
        if args.lockstep:  # let sim time run on for the diagnostics timer
            clock.run_from(last_t, time.monotonic())
        t_played = time.monotonic()
        # drain: wait until the node has handled every set it received and reported it
        end = time.monotonic() + 30.0
        while time.monotonic() < end and proc.poll() is None:
            time.sleep(0.2)
            pbar.set_postfix(out=recorder.n_poses())
            d = recorder.last_diag(after=t_played + 0.3)
            if d and d.get("sets_received", 0) == (d.get("frames_processed", 0) + d.get("bad_frames", 0)
                                                    + d.get("sets_dropped_stale", 0)) \
                    and recorder.n_poses() >= d.get("frames_published", 0) and time.monotonic() > t_played + 1.0:
                break
        pbar.close()
    except KeyboardInterrupt:
        rc = 130
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        rc = 1
    finally:
        diag = recorder.last_diag()
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        reader.join(timeout=2)
        clock.stop()
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown()
        with recorder.lock:
            writer.close()
    wall = time.monotonic() - t_start
    if rc != 0:
        return rc
    summary = _summarize(args, bag, recorder, diag, played, has_gt, model_note, wall)
    _print_summary(summary)
    return 0


def _summarize(args, bag: Path, recorder: _Recorder, diag: Optional[dict], played: int, has_gt: bool,
               model_note: str, wall: float) -> dict:
    from cv_bridge import CvBridge

    from kpfusion_ros.ros import bagio
    from kpfusion_ros.ros.conversions import color_to_rgb

    preds, own_lat = {}, []
    for t_recv, raw in recorder.poses:
        m = bagio.deserialize(raw, bagio.POSES_TYPE)
        s = bagio.stamp_ns(m.header.stamp)
        preds[s] = m
        own_lat.append((t_recv - s) / 1e6)
    gt = {}
    frames, fps_stamps = [], []
    bridge = CvBridge()
    read = [args.color_topic] + ([args.gt_topic] if has_gt else [])
    n_col = 0
    pending_imgs = []
    for topic, typ, t, raw in bagio.read_messages(bag, read):
        if topic == args.gt_topic:
            m = bagio.deserialize(raw, typ)
            gt[bagio.stamp_ns(m.header.stamp)] = m
        elif n_col < played:
            n_col += 1
            m = bagio.deserialize(raw, typ)
            pending_imgs.append((bagio.stamp_ns(m.header.stamp), m))
    for i, (s, m) in enumerate(pending_imgs):
        fps_stamps.append(s)
        p = preds.get(s)
        nh = len(p.hands) if p is not None else 0
        text = f"{i:3d}  {nh} hand(s)" if p is not None else f"{i:3d}  no output (dropped)"
        frames.append((s, draw_overlay(color_to_rgb(m, bridge), gt.get(s), p, text)))
    fps = (len(fps_stamps) - 1) / ((fps_stamps[-1] - fps_stamps[0]) / 1e9) if len(fps_stamps) > 1 else 30.0
    files = write_images(args.out, frames, set(preds), fps)
    scores = score(gt, preds) if has_gt else None
    lat = np.asarray(own_lat)
    d = diag or {}
    sets = d.get("sets_received")
    summary = {
        "bag": str(bag), "model": model_note, "device": args.device, "rate": args.rate, "lockstep": args.lockstep,
        "frames_in": played,
        "sets_received_by_node": sets,
        "frames_out": len(preds),
        "dropped_stale_by_node": d.get("sets_dropped_stale"),
        "not_synchronized": (played - sets) if isinstance(sets, int) else None,
        "bad_frames": d.get("bad_frames"),
        "latency_ms_p50": d.get("latency_ms_p50"), "latency_ms_p95": d.get("latency_ms_p95"),
        "latency_recorded_ms_p50": float(np.median(lat)) if lat.size else None,
        "latency_recorded_ms_p95": float(np.percentile(lat, 95)) if lat.size else None,
        "inference_ms_p50": d.get("inference_ms_p50"),
        "ground_truth": has_gt,
        "mpjpe_mm": scores["mpjpe_mm"] if scores else None,
        "mpjpe_mm_median": scores["mpjpe_mm_median"] if scores else None,
        "gt_hands_scored": scores["gt_hands"] if scores else None,
        "gt_hands_matched": scores["matched_hands"] if scores else None,
        "false_positives": scores["false_positives"] if scores else None,
        "match_centre_mm": scores["match_centre_mm"] if scores else None,
        "output_bag": "output_bag", "output_counts": dict(recorder.writer.counts),
        "files": files, "wall_s": round(wall, 1),
        "node_diagnostics": d,
    }
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2, default=_json_default) + "\n")
    summary["out"] = str(args.out)
    return summary


def _json_default(o):
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    return str(o)


def _fmt(v, spec=".1f"):
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "n/a"
    return format(v, spec) if isinstance(v, float) else str(v)


def _print_summary(s: dict) -> None:
    lines = [
        "",
        "=== kpfusion demo summary ===",
        f"recording     {s['bag']}",
        f"model         {s['model']} (device {s['device']})",
        f"frames in     {s['frames_in']} played at rate {s['rate']}{' (lockstep)' if s['lockstep'] else ''}; "
        f"{_fmt(s['sets_received_by_node'])} synchronized by the node",
        f"frames out    {s['frames_out']} HandPoseArray",
        f"dropped       {_fmt(s['dropped_stale_by_node'])} stale (node slower than the camera: it keeps the newest), "
        f"{_fmt(s['not_synchronized'])} not synchronized, {_fmt(s['bad_frames'])} bad",
        f"latency       p50 {_fmt(s['latency_ms_p50'])} ms, p95 {_fmt(s['latency_ms_p95'])} ms (node, stamp to publish; "
        f"inference p50 {_fmt(s['inference_ms_p50'])} ms)" if not s["lockstep"] else
        f"latency       n/a in lockstep (the recording's clock waits for the node); inference p50 "
        f"{_fmt(s['inference_ms_p50'])} ms",
    ]
    if s["ground_truth"] and s["mpjpe_mm"] is None:
        lines.append(f"MPJPE         n/a: none of the {s['gt_hands_scored']} ground-truth hands in the output frames "
                     f"was matched (no predicted hand within {_fmt(s['match_centre_mm'], '.0f')} mm; "
                     f"{_fmt(s['false_positives'])} predictions elsewhere)")
    elif s["ground_truth"]:
        lines.append(f"MPJPE         {_fmt(s['mpjpe_mm'])} mm mean, {_fmt(s['mpjpe_mm_median'])} mm median over "
                     f"{s['gt_hands_matched']}/{s['gt_hands_scored']} ground-truth hands matched (same stamp, centres "
                     f"within {_fmt(s['match_centre_mm'], '.0f')} mm); {_fmt(s['false_positives'])} false positives")
    else:
        lines.append("MPJPE         n/a (no ground-truth topic in the recording)")
    lines.append(f"outputs       {s['out']}/: summary.json, {s['files'].get('gif', '-')}, "
                 f"{len(s['files'].get('png', []))} PNG, output_bag/ ({s['output_counts'].get('/kpfusion/hand_poses', 0)} "
                 f"hand_poses, {s['output_counts'].get('/kpfusion/markers', 0)} markers, "
                 f"{s['output_counts'].get('/diagnostics', 0)} diagnostics)")
    lines.append(f"wall time     {s['wall_s']} s")
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    sys.exit(main())
