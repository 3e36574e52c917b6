"""kpfusion-soak: run the node against a synthetic camera for a while and report memory, rate, drops, latency.

Starts the installed node executable (``kpfusion_node``) as a subprocess, publishes
rendered RGB-D frames (``--hands`` hands each, cycling over a few renders) at
``--rate`` Hz stamped with the wall clock, and records: the node's resident memory
(VmRSS of /proc/PID/status) over time, every HandPoseArray's arrival (latency =
arrival − image stamp, measured on the test side), and the node's own /diagnostics
(sets received/dropped, per-stage timings). Prints one JSON object.

DDS must stay on this machine: run it through ``scripts/hermetic.sh``::

    scripts/hermetic.sh python -m kpfusion_ros.tools.soak --minutes 10 --rate 30 --hands 2 --out benchmarks/node_soak_10min.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Optional

import numpy as np


def rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for ln in fh:
                if ln.startswith("VmRSS:"):
                    return int(ln.split()[1]) / 1024.0
    except OSError:
        pass
    return float("nan")


def stop_process(proc: subprocess.Popen, timeout: float = 15.0) -> int:
    """SIGTERM (a clean shutdown, as Ctrl-C in `ros2 run`), SIGKILL after ``timeout`` s; the exit code."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


def node_executable() -> Path:
    import kpfusion_ros

    p = Path(kpfusion_ros.__file__).resolve()
    for up in p.parents:
        cand = up / "lib" / "kpfusion_ros" / "kpfusion_node"
        if cand.is_file():
            return cand
    raise FileNotFoundError("kpfusion_node executable not found: build with scripts/build.sh and source scripts/env.sh")


def render_frames(hands: int, width: int, height: int, n: int = 1, seed: int = 3):
    """``n`` rendered frames with ``hands`` hands (clean sensor), upscaled to width×height.

    The benchmarks stream ``frames[k % n]``. With n = 1 (the default) the scene is static, so the
    tracker confirms the hands and every frame publishes them (poses, markers, TF: the full
    per-frame work); frames of *different* scenes put the hands somewhere else every frame, no
    track is ever confirmed and nothing but empty arrays is published.
    """
    from kpfusion_ros.data.synthetic import SceneConfig, SyntheticConfig, render_frame

    scene = SceneConfig(num_hands=hands, clutter=(0, 0), p_occluder=0.0, p_near_object=0.0, p_grasp=0.0,
                        p_edge=0.0, p_table=0.0)
    base = SyntheticConfig(width=min(width, 640), height=min(height, 480), clean=True, scene=scene)
    frames = [render_frame(seed, i, base) for i in range(n)]
    if (width, height) != (base.width, base.height):  # upscale (rendering large frames is slow)
        import dataclasses

        import cv2

        sx, sy = width / base.width, height / base.height
        frames = [dataclasses.replace(f, color=cv2.resize(f.color, (width, height), interpolation=cv2.INTER_NEAREST),
                                      depth=cv2.resize(f.depth, (width, height), interpolation=cv2.INTER_NEAREST),
                                      cam=(f.cam[0] * sx, f.cam[1] * sy, f.cam[2] * sx, f.cam[3] * sy))
                  for f in frames]
    return frames


def _messages(frame, stamp_ns: int):
    from builtin_interfaces.msg import Time
    from sensor_msgs.msg import CameraInfo, Image
    from std_msgs.msg import Header

    header = Header(stamp=Time(sec=stamp_ns // 1_000_000_000, nanosec=stamp_ns % 1_000_000_000),
                    frame_id="camera_color_optical_frame")
    h, w = frame.color.shape[:2]
    color = Image(header=header, height=h, width=w, encoding="rgb8", is_bigendian=0, step=w * 3)
    color.data = np.ascontiguousarray(frame.color).tobytes()
    depth = Image(header=header, height=h, width=w, encoding="16UC1", is_bigendian=0, step=w * 2)
    depth.data = np.ascontiguousarray(frame.depth.astype(np.uint16)).tobytes()
    fx, fy, cx, cy = (float(v) for v in frame.cam)
    info = CameraInfo(header=header, height=h, width=w, distortion_model="plumb_bob")
    info.d = [0.0] * 5
    info.k = [fx, 0.0, cx, 0.0, fy, cy, 0.0, 0.0, 1.0]
    info.p = [fx, 0.0, cx, 0.0, 0.0, fy, cy, 0.0, 0.0, 0.0, 1.0, 0.0]
    return color, depth, info


class Harness:
    """The node subprocess plus a driver node that publishes frames and records outputs."""

    def __init__(self, model: str = "random:lite", params: tuple = (), domain: Optional[int] = None,
                 log_path: Optional[str] = None):
        import rclpy
        from diagnostic_msgs.msg import DiagnosticArray
        from rclpy.context import Context
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.qos import QoSProfile, ReliabilityPolicy
        from sensor_msgs.msg import CameraInfo, Image

        from kpfusion_ros.msg import HandPoseArray

        self.domain = domain if domain is not None else int(os.environ.get("ROS_DOMAIN_ID", "42"))
        env = dict(os.environ, ROS_DOMAIN_ID=str(self.domain), PYTHONUNBUFFERED="1")
        args = [str(node_executable()), "--ros-args", "-r", "color/image_raw:=/cam/color", "-r", "depth/image_raw:=/cam/depth",
                "-r", "color/camera_info:=/cam/info", "-p", f"model_path:={model}", "-p", "device:=cpu",
                "-p", "diagnostics_period:=1.0", "-p", "publish_tf:=false"]
        for p in params:
            args += ["-p", p]
        self._log = open(log_path, "w") if log_path else subprocess.DEVNULL
        self.proc = subprocess.Popen(args, env=env, stdout=self._log, stderr=subprocess.STDOUT)
        self.ctx = Context()
        rclpy.init(context=self.ctx, domain_id=self.domain)
        self.node = rclpy.create_node("kpfusion_soak_driver", context=self.ctx)
        self.ex = SingleThreadedExecutor(context=self.ctx)
        self.ex.add_node(self.node)
        rel = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
        self.arrivals: list[tuple[int, int]] = []  # (stamp ns, arrival ns)
        self.diag: list[tuple[float, dict]] = []
        self.node.create_subscription(HandPoseArray, "/kpfusion/hand_poses", self._on_pose, rel)
        self.node.create_subscription(DiagnosticArray, "/diagnostics", self._on_diag, rel)
        q = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE)
        self.pubs = (self.node.create_publisher(Image, "/cam/color", q),
                     self.node.create_publisher(Image, "/cam/depth", q),
                     self.node.create_publisher(CameraInfo, "/cam/info", q))
        self.sent = 0
        self.hands_published = 0  # hands in all HandPoseArrays received

    def _on_pose(self, msg):
        self.arrivals.append((msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec, time.time_ns()))
        self.hands_published += len(msg.hands)

    def _on_diag(self, msg):
        if msg.status:
            self.diag.append((time.monotonic(), {kv.key: kv.value for kv in msg.status[0].values}))

    def spin(self, seconds: float, until=None) -> bool:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.ex.spin_once(timeout_sec=0.005)
            if until is not None and until():
                return True
        return until() if until is not None else True

    def wait_ready(self, timeout: float = 60.0) -> None:
        if not self.spin(timeout, lambda: all(p.get_subscription_count() > 0 for p in self.pubs)
                         or self.proc.poll() is not None):
            raise RuntimeError("the node never subscribed")
        if self.proc.poll() is not None:
            raise RuntimeError(f"the node exited with {self.proc.returncode}")

    def publish(self, frame) -> int:
        stamp = time.time_ns()
        for p, m in zip(self.pubs, _messages(frame, stamp)):
            p.publish(m)
        self.sent += 1
        return stamp

    def stream(self, frames, rate: float, seconds: float, on_tick=None) -> None:
        """Publish at ``rate`` Hz for ``seconds`` (spinning in between); ``on_tick(t)`` about once a second."""
        period = 1.0 / rate
        t0 = time.monotonic()
        nxt, k, last_tick = t0, 0, -1
        while (now := time.monotonic()) - t0 < seconds:
            if now >= nxt:
                self.publish(frames[k % len(frames)])
                k += 1
                nxt += period
                if nxt < now - 1.0:  # fell behind by a second: do not burst
                    nxt = now
            if on_tick is not None and int(now - t0) != last_tick:
                last_tick = int(now - t0)
                on_tick(now - t0)
            self.ex.spin_once(timeout_sec=max(0.0, min(nxt - time.monotonic(), 0.01)))

    def latest_diag(self, after: Optional[float] = None, timeout: float = 5.0) -> dict:
        after = time.monotonic() if after is None else after
        self.spin(timeout, lambda: bool(self.diag) and self.diag[-1][0] > after)
        return dict(self.diag[-1][1]) if self.diag else {}

    def close(self) -> int:
        import rclpy

        try:
            self.ex.shutdown()
            self.node.destroy_node()
            rclpy.shutdown(context=self.ctx)
        finally:
            stop_process(self.proc)
            if self._log is not subprocess.DEVNULL:
                self._log.close()
        return self.proc.returncode


def latency_stats(arrivals, t_from_ns: Optional[int] = None, t_to_ns: Optional[int] = None) -> dict:
    lat = np.array([(a - s) / 1e6 for s, a in arrivals
                    if (t_from_ns is None or s >= t_from_ns) and (t_to_ns is None or s < t_to_ns)])
    if lat.size == 0:
        return {"n": 0}
    return {"n": int(lat.size), "p50": float(np.percentile(lat, 50)), "p95": float(np.percentile(lat, 95)),
            "p99": float(np.percentile(lat, 99)), "max": float(lat.max())}


def run_soak(seconds: float, rate: float, hands: int, model: str = "random:lite", width: int = 640,
             height: int = 480, warmup_s: float = 5.0, warmup_frames: int = 10, log_path: Optional[str] = None, params: tuple = ()) -> dict:
    load_before = os.getloadavg()
    frames = render_frames(hands, width, height)
    h = Harness(model=model, params=params, log_path=log_path)
    try:
        h.wait_ready()
        rss = []  # (t, MB)
        h.stream(frames, rate, warmup_s)
        # warm-up also until a few frames went through the model (allocator caches fill on the first
        # forward passes; on a loaded machine that takes longer than warmup_s), at most 60 s more
        t_w = time.monotonic()
        while int(h.latest_diag(timeout=1.5).get("frames_processed", 0)) < warmup_frames and time.monotonic() - t_w < 60:
            h.stream(frames, rate, 1.0)
        t_start_ns = time.time_ns()
        rss.append((0.0, rss_mb(h.proc.pid)))
        d0 = h.latest_diag()
        hands0, arrivals0 = h.hands_published, len(h.arrivals)
        h.stream(frames, rate, seconds, on_tick=lambda t: rss.append((round(t, 1), rss_mb(h.proc.pid))))
        t_end_ns = time.time_ns()
        rss.append((seconds, rss_mb(h.proc.pid)))
        h.spin(3.0)  # let the last frames come out
        d1 = h.latest_diag()
        alive = h.proc.poll() is None
    finally:
        rc = h.close()
    third = (t_end_ns - t_start_ns) // 3
    sets = int(d1.get("sets_received", 0)) - int(d0.get("sets_received", 0))
    processed = int(d1.get("frames_processed", 0)) - int(d0.get("frames_processed", 0))
    dropped = int(d1.get("sets_dropped_stale", 0)) - int(d0.get("sets_dropped_stale", 0))
    bad = int(d1.get("bad_frames", 0)) - int(d0.get("bad_frames", 0))
    published = [a for a in h.arrivals if t_start_ns <= a[0] < t_end_ns]
    rss_vals = [m for _, m in rss]
    return {
        "tool": "kpfusion-soak", "seconds": seconds, "rate_hz_requested": rate, "hands": hands, "model": model,
        "resolution": f"{width}x{height}", "warmup_s": warmup_s,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": sys.version.split()[0],
                    # before the run (other work on the machine shows here) and after it (includes this run)
                    "load_average_1_5_15_min_before": [round(x, 2) for x in load_before],
                    "load_average_1_5_15_min_after": [round(x, 2) for x in os.getloadavg()]},
        "node_alive_at_end": alive, "node_exit_code": rc,
        "rss_mb": {"start": rss_vals[0], "end": rss_vals[-1], "max": max(rss_vals), "growth": rss_vals[-1] - rss_vals[0],
                   # robust to the ±25 MB sample-to-sample noise: median of the last vs the first 5 samples
                   "growth_median5": float(np.median(rss_vals[-5:]) - np.median(rss_vals[:5])),
                   "growth_second_half_median5": float(np.median(rss_vals[-5:]) - np.median(
                       rss_vals[len(rss_vals) // 2 - 2: len(rss_vals) // 2 + 3])),
                   "samples": rss[:: max(1, len(rss) // 60)]},
        "published_rate_hz": len(published) / seconds,
        "hands_per_published_array": (h.hands_published - hands0) / max(len(h.arrivals) - arrivals0, 1),
        "sets_sent": None, "sets_received": sets, "frames_processed": processed, "sets_dropped_stale": dropped,
        "bad_frames": bad, "sets_in_mailbox_at_end": int(d1.get("mailbox_pending", -1)),
        "sync_queue_max_at_end": int(d1.get("sync_queue_max", -1)),
        "latency_ms": latency_stats(h.arrivals, t_start_ns, t_end_ns),
        "latency_ms_first_third": latency_stats(h.arrivals, t_start_ns, t_start_ns + third),
        "latency_ms_last_third": latency_stats(h.arrivals, t_end_ns - third, t_end_ns),
        "node_diagnostics_end": d1,
    } | {"sets_sent": h.sent}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="kpfusion-soak", description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--rate", type=float, default=30.0)
    ap.add_argument("--hands", type=int, default=2)
    ap.add_argument("--model", default="random:lite", help="model_path of the node (default random:lite)")
    ap.add_argument("--width", type=int, default=640)
    ap.add_argument("--height", type=int, default=480)
    ap.add_argument("--warmup", type=float, default=10.0, help="seconds streamed before measuring")
    ap.add_argument("--node-log", default=None, help="write the node's output here")
    ap.add_argument("--out", default=None, help="also write the JSON here")
    a = ap.parse_args(argv)
    res = run_soak(a.minutes * 60.0, a.rate, a.hands, model=a.model, width=a.width, height=a.height,
                   warmup_s=a.warmup, log_path=a.node_log)
    res["command"] = "kpfusion-soak " + " ".join(sys.argv[1:] if argv is None else argv)
    text = json.dumps(res, indent=2)
    print(text)
    if a.out:
        Path(a.out).write_text(text + "\n")
    return 0 if res["node_alive_at_end"] else 1


if __name__ == "__main__":
    sys.exit(main())
