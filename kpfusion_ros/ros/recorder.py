"""Record what a node publishes into a rosbag2 bag, as it arrives (``ros2 bag record`` in-process).

:class:`Recorder` subscribes raw (no deserialization on the way) to the given topics and writes
every message to a :class:`~kpfusion_ros.ros.bagio.BagWriter` stamped with ``clock_ns()`` at
arrival (the player's /clock in the demo). It keeps the HandPoseArrays of one topic (for scoring)
and the /diagnostics (for the node's own counters) in memory.
"""

from __future__ import annotations

import threading
import time
from typing import Callable, Optional

DIAGNOSTICS_TOPIC = "/diagnostics"
DIAGNOSTICS_TYPE = "diagnostic_msgs/msg/DiagnosticArray"


def diag_number(v: str):
    """A diagnostics value as int or float where it is one ('12' → 12, '1.5' → 1.5, 'nan' → nan), else the text."""
    try:
        f = float(v)
    except ValueError:
        return v
    return int(f) if f.is_integer() and "." not in v and "n" not in v.lower() else f


class Recorder:
    """Raw subscriptions to ``topics`` [(name, type)] on ``node``, written to ``writer`` as they arrive."""

    def __init__(self, node, writer, topics: list[tuple[str, str]], clock_ns: Callable[[], int], poses_topic: str,
                 status_name: str = "hand pose"):
        from rclpy.qos import QoSProfile, ReliabilityPolicy

        from kpfusion_ros.ros.bagio import msg_class

        self.writer, self.clock_ns, self.poses_topic, self.status_name = writer, clock_ns, poses_topic, status_name
        self.lock = threading.Lock()
        self.poses: list[tuple[int, bytes]] = []  # (receive time ns of clock_ns, raw)
        self.diags: list[tuple[float, bytes]] = []  # (receive wall monotonic, raw)
        self.subs = {}
        qos = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
        for topic, typ in topics:
            writer.add_topic(topic, typ)
            self.subs[topic] = node.create_subscription(msg_class(typ), topic,
                                                        lambda raw, t=topic, ty=typ: self._cb(t, ty, raw), qos,
                                                        raw=True)

    def _cb(self, topic: str, typ: str, raw: bytes) -> None:
        t = self.clock_ns()
        with self.lock:
            self.writer.write_raw(topic, typ, t, raw)
            if topic == self.poses_topic:
                self.poses.append((t, raw))
            elif topic == DIAGNOSTICS_TOPIC:
                self.diags.append((time.monotonic(), raw))

    def n_poses(self) -> int:
        with self.lock:
            return len(self.poses)

    def last_diag(self, after: float = -1.0) -> Optional[dict]:
        """Values of the newest status named like ``status_name`` received after ``after`` (monotonic)."""
        from kpfusion_ros.ros.bagio import deserialize

        with self.lock:
            items = [raw for t, raw in self.diags if t > after]
        for raw in reversed(items):
            msg = deserialize(raw, DIAGNOSTICS_TYPE)
            for st in msg.status:
                if self.status_name in st.name:
                    return {kv.key: diag_number(kv.value) for kv in st.values}
        return None

    def predictions(self) -> tuple[dict, list[float]]:
        """({stamp ns: HandPoseArray}, [receive time − stamp, ms]) of the recorded poses."""
        from kpfusion_ros.ros.bagio import POSES_TYPE, deserialize, stamp_ns

        preds, latency_ms = {}, []
        with self.lock:
            items = list(self.poses)
        for t_recv, raw in items:
            m = deserialize(raw, POSES_TYPE)
            s = stamp_ns(m.header.stamp)
            preds[s] = m
            latency_ms.append((t_recv - s) / 1e6)
        return preds, latency_ms

    def close(self) -> None:
        with self.lock:
            self.writer.close()
