"""The node under test as a subprocess, and the test-side ROS node that drives it over real DDS.

Shared by test_node.py, test_bad_input.py, test_faults.py and test_soak_short.py (through
test_bad_input). Run only inside the private network namespace (``make test``).

* :class:`NodeProc` – the installed ``kpfusion_node`` executable (as ``ros2 run`` starts it) on
  the test's domain, its output collected line by line.
* :class:`Rig` – publishes rendered RGB-D frames on ``/cam/{color,depth,info}`` and records the
  node's poses (with arrival times), markers, ``/tf`` and ``/diagnostics``.
"""

from __future__ import annotations

import itertools
import os
import re
import subprocess
import threading
import time

from kpfusion_ros.tools.soak import node_executable, stop_process  # the installed executable; SIGTERM, then kill


class NodeProc:
    """The node executable as a subprocess, with its output collected line by line.

    ``params`` are ``name:=value`` strings; they override the defaults here of the same name. The
    node's inputs are remapped onto the rig's topics (:data:`REMAPS`).
    """

    DEFAULTS = {"diagnostics_period": "0.25"}
    REMAPS = {"color/image_raw": "/cam/color", "depth/image_raw": "/cam/depth", "color/camera_info": "/cam/info"}

    def __init__(self, domain: int, *params: str, model: str = "random:lite", device: str = "cpu"):
        env = dict(os.environ, ROS_DOMAIN_ID=str(domain), ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST",
                   PYTHONUNBUFFERED="1", RCUTILS_LOGGING_BUFFERED_STREAM="0")
        values = dict(self.DEFAULTS, model_path=model, device=device)
        values.update(p.split(":=", 1) for p in params)
        args = [str(node_executable()), "--ros-args"]
        for name, value in self.REMAPS.items():
            args += ["-r", f"{name}:={value}"]
        for name, value in values.items():
            args += ["-p", f"{name}:={value}"]
        self.proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log(self, since: int = 0) -> str:
        return "\n".join(self.lines[since:])

    def mark(self) -> int:
        return len(self.lines)

    def wait_log(self, pattern: str, since: int = 0, timeout: float = 10.0) -> bool:
        end = time.monotonic() + timeout
        rx = re.compile(pattern)
        while time.monotonic() < end:
            if rx.search(self.log(since)):
                return True
            time.sleep(0.05)
        return bool(rx.search(self.log(since)))

    def stop(self) -> str:
        stop_process(self.proc)
        self._reader.join(timeout=5)
        return self.log()


class Rig:
    """Test-side ROS node: publishes inputs, records the node's outputs.

    ``reliable_inputs`` sets the QoS of the default input publishers; :meth:`publishers` makes
    extra ones of the other reliability on the same topics. Stamps come from a private counter
    (a replayed stream far in the past of the node's clock) unless given.
    """

    def __init__(self, ctx, reliable_inputs: bool = True, stamp_step_ns: int = 20_000_000,
                 name: str = "kpfusion_test_rig"):
        import rclpy
        from diagnostic_msgs.msg import DiagnosticArray
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.qos import QoSProfile, ReliabilityPolicy
        from tf2_msgs.msg import TFMessage
        from visualization_msgs.msg import MarkerArray

        from kpfusion_ros.msg import HandPoseArray

        self.ctx = ctx
        self.node = rclpy.create_node(name, context=ctx)
        self.ex = SingleThreadedExecutor(context=ctx)
        self.ex.add_node(self.node)
        rel = QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE)
        self.poses: dict[int, object] = {}
        self.pose_arrivals: list[tuple[int, float]] = []
        self.markers: list = []
        self.tf: list = []
        self.diag: list = []
        self.node.create_subscription(HandPoseArray, "/kpfusion/hand_poses", self._on_pose, rel)
        self.node.create_subscription(MarkerArray, "/kpfusion/markers", self.markers.append, rel)
        self.node.create_subscription(TFMessage, "/tf", self.tf.append, QoSProfile(depth=100))
        self.node.create_subscription(DiagnosticArray, "/diagnostics", self.diag.append, rel)
        self.default_reliability = "reliable" if reliable_inputs else "best_effort"
        self._extra_pubs: dict[str, tuple] = {}
        self._stamps = itertools.count(1_700_000_000_000_000_000, stamp_step_ns)
        self.make_publishers()

    # -- inputs -------------------------------------------------------------------------------------
    def _create_publishers(self, reliability: str) -> tuple:
        from rclpy.qos import QoSProfile, ReliabilityPolicy
        from sensor_msgs.msg import CameraInfo, Image

        q = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE if reliability == "reliable"
                       else ReliabilityPolicy.BEST_EFFORT)
        return (self.node.create_publisher(Image, "/cam/color", q),
                self.node.create_publisher(Image, "/cam/depth", q),
                self.node.create_publisher(CameraInfo, "/cam/info", q))

    def make_publishers(self):
        """(Re)create the default input publishers (a camera driver starting)."""
        self.pubs = self._create_publishers(self.default_reliability)

    def destroy_publishers(self):
        """Remove the default input publishers (a camera driver stopping)."""
        for p in self.pubs:
            self.node.destroy_publisher(p)
        self.pubs = ()

    def publishers(self, reliability: str | None = None) -> tuple:
        if reliability is None or reliability == self.default_reliability:
            return self.pubs
        if reliability not in self._extra_pubs:
            self._extra_pubs[reliability] = self._create_publishers(reliability)
        return self._extra_pubs[reliability]

    def next_stamp(self) -> int:
        return next(self._stamps)

    def messages(self, frame, stamp_ns=None, depth_encoding="16UC1", depth_offset_ns: int = 0):
        """(stamp, color, depth, info) of a rendered frame; depth stamped ``depth_offset_ns`` later."""
        from ros_frames import frame_messages

        stamp_ns = self.next_stamp() if stamp_ns is None else stamp_ns
        color, depth, info = frame_messages(frame, stamp_ns, depth_encoding=depth_encoding)
        if depth_offset_ns:
            _, depth, _ = frame_messages(frame, stamp_ns + depth_offset_ns, depth_encoding=depth_encoding)
        return stamp_ns, color, depth, info

    def publish(self, color=None, depth=None, info=None, reliability: str | None = None):
        for pub, msg in zip(self.publishers(reliability), (color, depth, info)):
            if msg is not None:
                pub.publish(msg)

    def send(self, frame, *, reliability: str | None = None, wait=True, timeout=60.0, **kw) -> int:
        """Publish a frame set; with ``wait``, until its HandPoseArray arrives. Returns the stamp."""
        stamp, color, depth, info = self.messages(frame, **kw)
        end = time.monotonic() + timeout
        while True:
            self.publish(color, depth, info, reliability=reliability)
            if not wait:
                return stamp
            # Right after (re)discovery a best-effort reader may not have matched the writer yet and the
            # set is lost; re-sending the same stamps is harmless (the node skips duplicate stamps).
            if self.spin(min(5.0, max(end - time.monotonic(), 0.0)), lambda: stamp in self.poses):
                return stamp
            assert time.monotonic() < end, f"no HandPoseArray for stamp {stamp}"

    # -- outputs ------------------------------------------------------------------------------------
    def _on_pose(self, msg):
        ns = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
        self.poses[ns] = msg
        self.pose_arrivals.append((ns, time.monotonic()))

    def spin(self, seconds: float, until=None):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.ex.spin_once(timeout_sec=0.01)
            if until is not None and until():
                return True
        return until() if until is not None else True

    def wait_matched(self, reliability: str | None = None, timeout=30.0):
        pubs = self.publishers(reliability)
        assert self.spin(timeout, lambda: all(p.get_subscription_count() > 0 for p in pubs)), \
            "the node never subscribed to the input topics"

    def diag_values(self) -> dict:
        if not self.diag:
            return {}
        return {kv.key: kv.value for kv in self.diag[-1].status[0].values}

    def fresh_diag(self, timeout=5.0) -> dict:
        """Diagnostics published after now (so they include everything the node did so far)."""
        t = time.time_ns() + 50_000_000

        def fresh():
            return bool(self.diag) and (self.diag[-1].header.stamp.sec * 1_000_000_000
                                        + self.diag[-1].header.stamp.nanosec) > t
        assert self.spin(timeout, fresh), "no fresh /diagnostics"
        return self.diag_values()

    def close(self):
        self.ex.shutdown()
        self.node.destroy_node()


def start_rig(domain: int, *params: str, device: str = "cpu", model: str = "random:lite",
              reliable_inputs: bool = True, stamp_step_ns: int = 20_000_000) -> Rig:
    """Start the node process and a rig on ``domain``; the rig's ``proc`` is the :class:`NodeProc`."""
    import rclpy
    from rclpy.context import Context

    node = NodeProc(domain, *params, device=device, model=model)
    ctx = Context()
    rclpy.init(context=ctx, domain_id=domain)
    r = Rig(ctx, reliable_inputs=reliable_inputs, stamp_step_ns=stamp_step_ns)
    r.proc = node
    try:
        r.wait_matched()
    except AssertionError:
        print(node.stop()[-4000:])
        raise
    return r


def stop_rig(r: Rig) -> str:
    import rclpy

    r.close()
    rclpy.shutdown(context=r.ctx)
    out = r.proc.stop()
    print(out[-3000:])
    return out
