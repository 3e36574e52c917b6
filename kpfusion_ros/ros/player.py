"""Replay a recording to the node over DDS, as ``ros2 bag play --clock`` would, and record what it answers.

* :class:`SimClock` publishes ``/clock`` from the recording's stamps: held at a stamp, or running
  from one at ``rate`` × real time.
* :class:`BagPlayer` publishes a bag's messages on their topics (reliable, as realsense-ros does)
  with the recorded timing scaled by ``rate``, or in *lockstep*: each color frame only after the
  node answered the previous one (no drops; for comparisons).
* :func:`replay` runs a session: the node executable (:class:`~kpfusion_ros.ros.harness.NodeProcess`,
  ``use_sim_time``), the player, a :class:`~kpfusion_ros.ros.recorder.Recorder` of the node's
  outputs into a new bag; it waits for the node to subscribe, plays, waits until the node's
  /diagnostics account for every set it received, and stops everything.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional


class SimClock:
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
            except Exception:  # the context is shutting down
                pass

    def _loop(self) -> None:
        while not self._stop.wait(self.period):
            self._publish()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.ident is not None:  # started
            self._thread.join(timeout=2)


class BagPlayer:
    """Publishes ``topics`` ({name: type}) of ``bag`` on ``node``; ``frame_topic`` counts the frames."""

    def __init__(self, node, bag: Path, topics: dict[str, str], frame_topic: str, clock: SimClock,
                 rate: float = 1.0, lockstep: bool = False):
        from rclpy.qos import QoSProfile, ReliabilityPolicy

        from kpfusion_ros.ros.bagio import msg_class

        reliable = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        self.bag, self.frame_topic, self.clock, self.rate, self.lockstep = bag, frame_topic, clock, rate, lockstep
        self.pubs = {t: node.create_publisher(msg_class(typ), t, reliable) for t, typ in topics.items()}

    def first_stamp(self) -> int:
        from kpfusion_ros.ros.bagio import read_messages

        it = read_messages(self.bag, [self.frame_topic])
        t = next(it)[2]
        it.close()
        return t

    def matched(self) -> bool:
        return all(p.get_subscription_count() > 0 for p in self.pubs.values())

    def play(self, n_frames: int, answered: Callable[[], int], proc,
             on_frame: Callable[[int], None] = lambda played: None) -> int:
        """Play up to ``n_frames`` frames (and the other topics' messages up to the last one's log time).

        Timed: each message at its log time / rate after the first. Lockstep: the clock is held at
        each message's stamp, and a new stamp waits (≤ 60 s) until ``answered()`` ≥ frames sent.
        RuntimeError when the node's process ``proc`` (``poll()``) exits. Returns the frames played.
        """
        from kpfusion_ros.ros.bagio import read_messages

        played, cut_ns, anchor, last_t, first_ns = 0, None, None, None, None
        for topic, _, t, raw in read_messages(self.bag, list(self.pubs)):
            if cut_ns is not None and t > cut_ns:
                break
            if self.lockstep:
                if last_t is not None and t != last_t and played > 0:
                    end = time.monotonic() + 60.0
                    while answered() < played and time.monotonic() < end and proc.poll() is None:
                        time.sleep(0.01)
                self.clock.hold(t)
            else:
                if anchor is None:
                    anchor = time.monotonic()
                    self.clock.run_from(t, anchor)
                    first_ns = t
                delay = anchor + (t - first_ns) / 1e9 / self.rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            last_t = t
            self.pubs[topic].publish(bytes(raw))
            if topic == self.frame_topic:
                played += 1
                on_frame(played)
                if played >= n_frames:
                    cut_ns = t
            if proc.poll() is not None:
                raise RuntimeError(f"the kpfusion node exited while playing (code {proc.returncode})")
        if self.lockstep and last_t is not None:  # let sim time run on (the node's diagnostics timer)
            self.clock.run_from(last_t, time.monotonic())
        return played


STARTUP_TIMEOUT_S = 180.0  # the node loads the model and subscribes within this (a loaded machine is slow)


@dataclass
class ReplayResult:
    played: int  # color frames played
    recorder: object  # the Recorder (poses, diagnostics), its bag closed
    diag: Optional[dict]  # the node's last hand-pose diagnostics
    wall_s: float
    node_log: list


def replay(bag: Path, topics: dict[str, str], frame_topic: str, node_params: dict, out_bag: Path,
           n_frames: int, *, remaps: Optional[dict] = None, rate: float = 1.0, lockstep: bool = False,
           record_tf: bool = True,
           node_name: str = "kpfusion", startup_timeout: float = STARTUP_TIMEOUT_S, progress: bool = True,
           say: Callable[[str], None] = lambda text: None, echo: Optional[Callable[[str], None]] = None
           ) -> ReplayResult:
    """Start the node (``node_params`` plus ``use_sim_time``, its inputs remapped by ``remaps``), play
    ``topics`` of ``bag`` to it, record its
    hand poses, markers, /diagnostics (and /tf) into ``out_bag``; stop it. RuntimeError if the node
    exits or does not subscribe within ``startup_timeout`` s (KeyboardInterrupt passes through;
    everything is stopped either way; FileNotFoundError without the installed node)."""
    import rclpy
    from rclpy.executors import MultiThreadedExecutor
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from rosgraph_msgs.msg import Clock
    from tqdm import tqdm

    from kpfusion_ros.ros import bagio
    from kpfusion_ros.ros.harness import NodeProcess
    from kpfusion_ros.ros.recorder import DIAGNOSTICS_TOPIC, DIAGNOSTICS_TYPE, Recorder

    t_start = time.monotonic()
    poses_topic, markers_topic = f"/{node_name}/hand_poses", f"/{node_name}/markers"
    writer = bagio.BagWriter(out_bag, overwrite=True)
    context = rclpy.Context()
    rclpy.init(args=[], context=context)
    node = rclpy.create_node("kpfusion_player", context=context)
    reliable = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
    clock = SimClock(node.create_publisher(Clock, "/clock", reliable), rate)
    player = BagPlayer(node, bag, topics, frame_topic, clock, rate=rate, lockstep=lockstep)
    rec_topics = [(poses_topic, bagio.POSES_TYPE), (markers_topic, bagio.MARKERS_TYPE),
                  (DIAGNOSTICS_TOPIC, DIAGNOSTICS_TYPE)] + ([("/tf", "tf2_msgs/msg/TFMessage")] if record_tf else [])
    recorder = Recorder(node, writer, rec_topics, clock.now_ns, poses_topic)
    executor = MultiThreadedExecutor(num_threads=2, context=context)
    executor.add_node(node)
    threading.Thread(target=executor.spin, daemon=True).start()
    proc, played, diag = None, 0, None
    try:
        proc = NodeProcess({**node_params, "use_sim_time": "true"}, node_name=node_name, echo=echo, remaps=remaps)
        # hold /clock at the first stamp until the node is up and matched on every topic
        clock.hold(player.first_stamp())
        clock.start()
        deadline = time.monotonic() + startup_timeout
        while not (player.matched() and recorder.subs[poses_topic].get_publisher_count() > 0
                   and clock.pub.get_subscription_count() > 0):
            if proc.poll() is not None:
                raise RuntimeError(f"the kpfusion node exited during start-up (code {proc.returncode}); "
                                   "see its log above")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the kpfusion node did not subscribe within {startup_timeout:.0f} s")
            time.sleep(0.1)
        time.sleep(0.5)
        say(f"node ready after {time.monotonic() - t_start:.1f} s; playing")
        pbar = tqdm(total=n_frames, desc="playing", unit="frame", file=sys.stderr, dynamic_ncols=True,
                    disable=not progress)

        def on_frame(n):
            pbar.update(1)
            pbar.set_postfix(out=recorder.n_poses())

        played = player.play(n_frames, recorder.n_poses, proc, on_frame)
        t_played = time.monotonic()
        # drain: until the node has handled every set it received and reported it
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
    finally:
        diag = recorder.last_diag()
        if proc is not None:
            proc.stop(sig=signal.SIGINT)
        clock.stop()
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown(context=context)
        recorder.close()
    return ReplayResult(played, recorder, diag, time.monotonic() - t_start, proc.lines)
