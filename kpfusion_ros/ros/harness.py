"""The DDS rig: the installed node executable as a process, and a driver node that feeds it and records it.

Shared by ``kpfusion-soak``, ``kpfusion-bench-node``, ``kpfusion-demo`` (the node process) and
the tests over DDS. Everything here starts DDS: run it inside ``scripts/hermetic.sh``.

* :func:`node_executable` – where ``ros2 run kpfusion_ros kpfusion_node`` finds the node (the
  ament index), :class:`NodeProcess` – that executable as a subprocess with its output collected
  line by line, :func:`stop_process` – how every such process is ended.
* :class:`Driver` – a ROS node of the test/benchmark side: publishes RGB-D sets on
  :data:`RIG_REMAPS` (built by :func:`~kpfusion_ros.ros.hand_frames.frame_messages`), one at a
  time (:meth:`Driver.send`) or as a stream at a rate (:meth:`Driver.stream`), and records the
  node's poses (with their arrival times), /diagnostics and optionally markers and /tf.
* :func:`start_rig` / :func:`stop_rig` – the node on the rig's topics plus a driver, on one domain.
"""

from __future__ import annotations

import itertools
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable, Iterable, Mapping, Optional

import numpy as np

from kpfusion_ros.node_config import CAMERA_INFO_TOPIC, COLOR_TOPIC, DEPTH_TOPIC

PACKAGE = "kpfusion_ros"
EXECUTABLE = "kpfusion_node"
#: The rig's topics: the node's inputs (kpfusion_ros.node_config's relative names) remapped onto these.
RIG_REMAPS = {COLOR_TOPIC: "/cam/color", DEPTH_TOPIC: "/cam/depth", CAMERA_INFO_TOPIC: "/cam/info"}
POSES_TOPIC = "/kpfusion/hand_poses"
MARKERS_TOPIC = "/kpfusion/markers"
FIRST_STAMP_NS = 1_700_000_000_000_000_000  # the driver's own stamps: a replay far in the node's past
#: The node as kpfusion-soak and kpfusion-bench-node run it (on top of :func:`rig_node`'s): diagnostics
#: once a second, no TF (their drivers record neither /tf nor markers).
BENCH_PARAMS = ("diagnostics_period:=1.0", "publish_tf:=false")


def node_executable() -> Path:
    """The installed node executable, found as ``ros2 run`` finds it (the ament index's package prefix)."""
    try:
        from ament_index_python.packages import PackageNotFoundError, get_package_prefix
    except ImportError as exc:
        raise FileNotFoundError(f"{EXECUTABLE}: ament_index_python is not importable ({exc}): source the "
                                "ROS environment (scripts/env.sh)") from exc
    try:
        exe = Path(get_package_prefix(PACKAGE)) / "lib" / PACKAGE / EXECUTABLE
    except PackageNotFoundError as exc:
        raise FileNotFoundError(f"{EXECUTABLE}: package {PACKAGE} is not installed: build it (scripts/build.sh) "
                                "and source scripts/env.sh") from exc
    if not exe.is_file():
        raise FileNotFoundError(f"{exe} not found: rebuild the package (scripts/build.sh)")
    return exe


def stop_process(proc: subprocess.Popen, timeout: float = 15.0, sig: int = signal.SIGTERM) -> int:
    """``sig`` (SIGTERM: a clean shutdown, as ``ros2 run`` on Ctrl-C), SIGKILL after ``timeout`` s; the exit code."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


def rss_mb(pid: int) -> float:
    """Resident memory of process ``pid`` (VmRSS of /proc/PID/status), MB; NaN when unreadable."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for ln in fh:
                if ln.startswith("VmRSS:"):
                    return int(ln.split()[1]) / 1024.0
    except OSError:
        pass
    return float("nan")


def latency_stats(arrivals, t_from_ns: Optional[int] = None, t_to_ns: Optional[int] = None) -> dict:
    """Percentiles (ms) of arrival − stamp over the ``(stamp ns, arrival ns)`` pairs stamped in [from, to)."""
    lat = np.array([(a - s) / 1e6 for s, a in arrivals
                    if (t_from_ns is None or s >= t_from_ns) and (t_to_ns is None or s < t_to_ns)])
    if lat.size == 0:
        return {"n": 0}
    return {"n": int(lat.size), "p50": float(np.percentile(lat, 50)), "p95": float(np.percentile(lat, 95)),
            "p99": float(np.percentile(lat, 99)), "max": float(lat.max())}


def param_dict(items: Iterable[str]) -> dict[str, str]:
    """``['name:=value', ...]`` (the ``-p`` syntax of ``--ros-args``) → {name: value}; later items win."""
    out = {}
    for item in items:
        name, sep, value = item.partition(":=")
        if not sep or not name:
            raise ValueError(f"node parameter {item!r}: expected NAME:=VALUE")
        out[name] = value
    return out


def default_domain() -> int:
    return int(os.environ.get("ROS_DOMAIN_ID", "42"))


# --------------------------------------------------------------------------------------------------
class NodeProcess:
    """The node executable as a subprocess (as ``ros2 run`` starts it), its output collected line by line.

    ``params`` ({name: value}) become ``-p name:=value``, ``remaps`` ({from: to}) ``-r from:=to`` (the node's
    inputs are relative names: ``color/image_raw`` …); ``node_name`` remaps the node's name;
    ``domain`` sets ROS_DOMAIN_ID, ``env`` more variables. Each output line is kept (:meth:`log`),
    written to ``log_path`` and passed to ``echo`` (non-empty lines) when given.
    """

    def __init__(self, params: Optional[Mapping[str, object]] = None, *, domain: Optional[int] = None,
                 node_name: Optional[str] = None, env: Optional[Mapping[str, str]] = None,
                 log_path: Optional[str] = None, echo: Optional[Callable[[str], None]] = None,
                 remaps: Optional[Mapping[str, str]] = None):
        args = [sys.executable, str(node_executable()), "--ros-args"]
        if node_name:
            args += ["-r", f"__node:={node_name}"]
        for src, dst in (remaps or {}).items():
            args += ["-r", f"{src}:={dst}"]
        for name, value in (params or {}).items():
            args += ["-p", f"{name}:={value}"]
        full_env = dict(os.environ, PYTHONUNBUFFERED="1", RCUTILS_LOGGING_BUFFERED_STREAM="0",
                        RCUTILS_COLORIZED_OUTPUT="0")
        if domain is not None:
            full_env["ROS_DOMAIN_ID"] = str(domain)
        full_env.update(env or {})
        self.args = args
        self.lines: list[str] = []
        self._echo = echo
        self._log = open(log_path, "w") if log_path else None
        self.proc = subprocess.Popen(args, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self._reader = threading.Thread(target=self._read, name="node-output", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            line = line.rstrip("\n")
            self.lines.append(line)
            if self._log is not None:
                self._log.write(line + "\n")
                self._log.flush()
            if self._echo is not None and line.strip():
                self._echo(line)

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def returncode(self) -> Optional[int]:
        return self.proc.returncode

    def poll(self) -> Optional[int]:
        return self.proc.poll()

    def rss_mb(self) -> float:
        return rss_mb(self.proc.pid)

    def log(self, since: int = 0) -> str:
        return "\n".join(self.lines[since:])

    def mark(self) -> int:
        """A position in the log, for :meth:`log` / :meth:`wait_log` ``since``."""
        return len(self.lines)

    def wait_log(self, pattern: str, since: int = 0, timeout: float = 10.0) -> bool:
        """Whether a line matching ``pattern`` (regex) appears after ``since`` within ``timeout`` s."""
        end = time.monotonic() + timeout
        rx = re.compile(pattern)
        while time.monotonic() < end:
            if rx.search(self.log(since)):
                return True
            time.sleep(0.05)
        return bool(rx.search(self.log(since)))

    def stop(self, timeout: float = 15.0, sig: int = signal.SIGTERM) -> str:
        """End the process (:func:`stop_process`) and return its whole log."""
        stop_process(self.proc, timeout=timeout, sig=sig)
        self._reader.join(timeout=5)
        if self._log is not None:
            self._log.close()
            self._log = None
        return self.log()


def rig_node(domain: Optional[int], *params: str, model: str = "random:lite", device: str = "cpu",
             log_path: Optional[str] = None) -> NodeProcess:
    """The node on the rig's topics, /diagnostics every 0.25 s; ``params`` ('name:=value') override these."""
    values = {"diagnostics_period": "0.25", "model_path": model, "device": device, **param_dict(params)}
    return NodeProcess(values, domain=domain, env={"ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST"},
                       log_path=log_path, remaps=RIG_REMAPS)


# --------------------------------------------------------------------------------------------------
def _values(diag_msg) -> dict:
    return {kv.key: kv.value for kv in diag_msg.status[0].values} if diag_msg.status else {}


class Driver:
    """The rig's own ROS node: publishes the node's inputs and records its outputs.

    ``reliable_inputs`` sets the QoS of the default input publishers; :meth:`publishers` makes
    extra ones of the other reliability on the same topics. :meth:`send` stamps sets from a
    private counter (a replayed stream far in the past of the node's clock) unless given a stamp;
    :meth:`stream` stamps them with the wall clock (the node's clock: latency = arrival − stamp).
    Recorded: ``poses`` {stamp ns: HandPoseArray}, ``arrivals`` [(stamp ns, arrival wall ns)],
    ``hands_published``, ``diag`` (DiagnosticArray), and with ``markers`` / ``tf`` those topics.
    """

    def __init__(self, ctx, *, reliable_inputs: bool = True, stamp_step_ns: int = 20_000_000,
                 name: str = "kpfusion_rig_driver", markers: bool = True, tf: bool = True):
        import rclpy
        from diagnostic_msgs.msg import DiagnosticArray
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.qos import QoSProfile, ReliabilityPolicy

        from kpfusion_ros.msg import HandPoseArray

        self.ctx = ctx
        self.proc: Optional[NodeProcess] = None  # set by start_rig
        self.node = rclpy.create_node(name, context=ctx)
        self.ex = SingleThreadedExecutor(context=ctx)
        self.ex.add_node(self.node)
        rel = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
        self.poses: dict[int, object] = {}
        self.arrivals: list[tuple[int, int]] = []
        self.hands_published = 0
        self.markers: list = []
        self.tf: list = []
        self.diag: list = []
        self._diag_received: list[float] = []  # monotonic receive time of each diag
        self.sent = 0  # color images published
        self.node.create_subscription(HandPoseArray, POSES_TOPIC, self._on_pose, rel)
        self.node.create_subscription(DiagnosticArray, "/diagnostics", self._on_diag, rel)
        if markers:
            from visualization_msgs.msg import MarkerArray

            self.node.create_subscription(MarkerArray, MARKERS_TOPIC, self.markers.append, rel)
        if tf:
            from tf2_msgs.msg import TFMessage

            self.node.create_subscription(TFMessage, "/tf", self.tf.append, QoSProfile(depth=100))
        self.default_reliability = "reliable" if reliable_inputs else "best_effort"
        self._extra_pubs: dict[str, tuple] = {}
        self._stamps = itertools.count(FIRST_STAMP_NS, stamp_step_ns)
        self.make_publishers()

    # -- inputs -------------------------------------------------------------------------------------
    def _create_publishers(self, reliability: str) -> tuple:
        from rclpy.qos import QoSProfile, ReliabilityPolicy
        from sensor_msgs.msg import CameraInfo, Image

        q = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE if reliability == "reliable"
                       else ReliabilityPolicy.BEST_EFFORT)
        return (self.node.create_publisher(Image, RIG_REMAPS[COLOR_TOPIC], q),
                self.node.create_publisher(Image, RIG_REMAPS[DEPTH_TOPIC], q),
                self.node.create_publisher(CameraInfo, RIG_REMAPS[CAMERA_INFO_TOPIC], q))

    def make_publishers(self) -> None:
        """(Re)create the default input publishers (a camera driver starting)."""
        self.pubs = self._create_publishers(self.default_reliability)

    def destroy_publishers(self) -> None:
        """Remove the default input publishers (a camera driver stopping)."""
        for p in self.pubs:
            self.node.destroy_publisher(p)
        self.pubs = ()

    def publishers(self, reliability: Optional[str] = None) -> tuple:
        if reliability is None or reliability == self.default_reliability:
            return self.pubs
        if reliability not in self._extra_pubs:
            self._extra_pubs[reliability] = self._create_publishers(reliability)
        return self._extra_pubs[reliability]

    def next_stamp(self) -> int:
        return next(self._stamps)

    def messages(self, frame, stamp_ns: Optional[int] = None, depth_encoding: str = "16UC1",
                 depth_offset_ns: int = 0):
        """(stamp, color, depth, info) of a frame; depth stamped ``depth_offset_ns`` later."""
        from kpfusion_ros.ros.hand_frames import frame_messages

        stamp_ns = self.next_stamp() if stamp_ns is None else stamp_ns
        color, depth, info = frame_messages(frame, stamp_ns, depth_encoding=depth_encoding)
        if depth_offset_ns:
            _, depth, _ = frame_messages(frame, stamp_ns + depth_offset_ns, depth_encoding=depth_encoding)
        return stamp_ns, color, depth, info

    def publish(self, color=None, depth=None, info=None, reliability: Optional[str] = None) -> None:
        for pub, msg in zip(self.publishers(reliability), (color, depth, info)):
            if msg is not None:
                pub.publish(msg)
        if color is not None:
            self.sent += 1

    def send(self, frame, *, reliability: Optional[str] = None, wait: bool = True, timeout: float = 60.0,
             **kw) -> int:
        """Publish a frame's set; with ``wait``, until its HandPoseArray arrives. Returns the stamp."""
        stamp, color, depth, info = self.messages(frame, **kw)
        end = time.monotonic() + timeout
        publish = True
        while True:
            if publish:
                self.publish(color, depth, info, reliability=reliability)
            if not wait:
                return stamp
            if self.spin(min(5.0, max(end - time.monotonic(), 0.0)), lambda: stamp in self.poses):
                return stamp
            if time.monotonic() >= end:
                raise TimeoutError(f"no HandPoseArray for stamp {stamp} within {timeout:.0f} s")
            # Right after (re)discovery a best-effort reader may not have matched the writer yet and the
            # set is lost: send it again (the node skips duplicate stamps). Not when the node's diagnostics
            # count every color image sent: it has the set and is still working on it (a loaded machine),
            # and a re-sent one would only add a "duplicate stamp" warning.
            publish = int(self.diag_values().get("received_color", -1)) < self.sent

    def stream(self, frames, rate: float, seconds: float, on_tick=None) -> None:
        """Publish ``frames[k % len(frames)]`` at ``rate`` Hz for ``seconds``, stamped with the wall clock,
        spinning in between; ``on_tick(t)`` about once a second."""
        period = 1.0 / rate
        t0 = time.monotonic()
        nxt, k, last_tick = t0, 0, -1
        while (now := time.monotonic()) - t0 < seconds:
            if now >= nxt:
                _, color, depth, info = self.messages(frames[k % len(frames)], stamp_ns=time.time_ns())
                self.publish(color, depth, info)
                k += 1
                nxt += period
                if nxt < now - 1.0:  # fell behind by a second: do not burst
                    nxt = now
            if on_tick is not None and int(now - t0) != last_tick:
                last_tick = int(now - t0)
                on_tick(now - t0)
            self.ex.spin_once(timeout_sec=max(0.0, min(nxt - time.monotonic(), 0.01)))

    # -- outputs ------------------------------------------------------------------------------------
    def _on_pose(self, msg) -> None:
        ns = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
        self.poses[ns] = msg
        self.arrivals.append((ns, time.time_ns()))
        self.hands_published += len(msg.hands)

    def _on_diag(self, msg) -> None:
        self.diag.append(msg)
        self._diag_received.append(time.monotonic())

    def spin(self, seconds: float, until=None) -> bool:
        """Spin for ``seconds``, or until ``until()`` is true (then True); ``until()`` at the end."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.ex.spin_once(timeout_sec=0.01)
            if until is not None and until():
                return True
        return until() if until is not None else True

    def wait_matched(self, reliability: Optional[str] = None, timeout: float = 30.0) -> None:
        """Until the node subscribed to every input; RuntimeError if it did not, or its process exited."""
        pubs = self.publishers(reliability)

        def exited():
            return self.proc is not None and self.proc.poll() is not None

        self.spin(timeout, lambda: all(p.get_subscription_count() > 0 for p in pubs) or exited())
        if exited():
            raise RuntimeError(f"the node exited with code {self.proc.returncode}")
        if not all(p.get_subscription_count() > 0 for p in pubs):
            raise RuntimeError(f"the node did not subscribe to the input topics within {timeout:.0f} s")

    def diag_values(self) -> dict:
        """The key/values of the node's latest /diagnostics status ({} before the first)."""
        return _values(self.diag[-1]) if self.diag else {}

    def latest_diag(self, after: Optional[float] = None, timeout: float = 5.0) -> dict:
        """Values of the latest /diagnostics received after ``after`` (time.monotonic(); default now),
        waiting up to ``timeout`` s for one; the latest received otherwise ({} if none)."""
        after = time.monotonic() if after is None else after
        self.spin(timeout, lambda: bool(self._diag_received) and self._diag_received[-1] > after)
        return self.diag_values()

    def fresh_diag(self, timeout: float = 5.0) -> dict:
        """Values of a /diagnostics stamped after now (so it counts everything the node did so far)."""
        t = time.time_ns() + 50_000_000

        def fresh():
            return bool(self.diag) and (self.diag[-1].header.stamp.sec * 1_000_000_000
                                        + self.diag[-1].header.stamp.nanosec) > t
        if not self.spin(timeout, fresh):
            raise TimeoutError(f"no fresh /diagnostics within {timeout:.0f} s")
        return self.diag_values()

    def close(self) -> None:
        self.ex.shutdown()
        self.node.destroy_node()


# --------------------------------------------------------------------------------------------------
def start_rig(domain: Optional[int], *params: str, model: str = "random:lite", device: str = "cpu",
              reliable_inputs: bool = True, stamp_step_ns: int = 20_000_000, markers: bool = True,
              tf: bool = True, log_path: Optional[str] = None, name: str = "kpfusion_rig_driver",
              timeout: float = 60.0) -> Driver:
    """The node (:func:`rig_node`) and a :class:`Driver` on ``domain`` (None: ROS_DOMAIN_ID, else 42),
    once the node has subscribed; the driver's ``proc`` is the node's :class:`NodeProcess`.
    If the node does not come up, RuntimeError with the end of its log."""
    import rclpy
    from rclpy.context import Context

    domain = default_domain() if domain is None else domain
    proc = rig_node(domain, *params, model=model, device=device, log_path=log_path)
    ctx = Context()
    rclpy.init(context=ctx, domain_id=domain)
    driver = None
    try:
        driver = Driver(ctx, reliable_inputs=reliable_inputs, stamp_step_ns=stamp_step_ns, name=name,
                        markers=markers, tf=tf)
        driver.proc = proc
        driver.wait_matched(timeout=timeout)
    except BaseException as exc:
        if driver is not None:
            driver.close()
        rclpy.try_shutdown(context=ctx)
        log = proc.stop()
        if isinstance(exc, RuntimeError):
            raise RuntimeError(f"{exc}; the node's log ends:\n{log[-4000:]}") from exc
        raise
    return driver


def stop_rig(driver: Driver) -> str:
    """Close the driver, its ROS context and the node process; the node's whole log."""
    import rclpy

    try:
        driver.close()
        rclpy.try_shutdown(context=driver.ctx)
    finally:
        log = driver.proc.stop() if driver.proc is not None else ""
    return log
