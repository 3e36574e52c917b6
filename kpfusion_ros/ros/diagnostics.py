"""The node's health on ``/diagnostics``: counters, recent timings and input arrivals, as one DiagnosticStatus.

:class:`NodeDiagnostics` is fed by the node (the executor thread counts arrivals and synchronized
sets, the inference worker the frames it processed) and turns what it saw into the key/value list
and the level (OK; WARN before the first synchronized set; ERROR while every frame was rejected).
It also answers the watchdog's question: which inputs have been silent for too long.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Iterable

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue

WINDOW = 300  # recent frames kept for the percentiles and the rate

#: The counters the node increments with `count` (published with the other values).
COUNTERS = ("sets_received", "frames_processed", "frames_published", "bad_frames", "skipped_stamps",
            "frames_no_depth", "debug_images_published")


class NodeDiagnostics:
    def __init__(self, roles: Iterable[str]) -> None:
        self.roles = tuple(roles)
        self.counts = dict.fromkeys(COUNTERS, 0)
        self.last_arrival: dict[str, float] = {}  # role -> time.monotonic() of its last message
        self.received = dict.fromkeys(self.roles, 0)
        self._latency_ms: deque = deque(maxlen=WINDOW)
        self._inference_ms: deque = deque(maxlen=WINDOW)
        self._published_at: deque = deque(maxlen=WINDOW)
        self._stages: dict[str, deque] = {}
        self.active_since = time.monotonic()

    def activated(self) -> None:
        """The inputs were (re)subscribed: silence is measured from now."""
        self.active_since = time.monotonic()

    def count(self, key: str, n: int = 1) -> None:
        self.counts[key] += n

    def arrived(self, role: str) -> None:
        self.last_arrival[role] = time.monotonic()
        self.received[role] += 1

    def published(self, latency_ms: float, inference_ms: float, stages_ms: dict) -> None:
        """One HandPoseArray published: stamp → published latency, network time, per-stage times."""
        self.counts["frames_published"] += 1
        self._latency_ms.append(float(latency_ms))
        self._inference_ms.append(float(inference_ms))
        self._published_at.append(time.monotonic())
        for k, v in stages_ms.items():
            self._stages.setdefault(k, deque(maxlen=WINDOW)).append(float(v))

    def silent_inputs(self, timeout: float) -> list[tuple[str, float, bool]]:
        """(role, seconds silent, never received) of every input without a message for ``timeout`` s."""
        now = time.monotonic()
        out = []
        for role in self.roles:
            last = self.last_arrival.get(role, self.active_since)
            if now - last > timeout:
                out.append((role, now - last, role not in self.last_arrival))
        return out

    def unsynchronized(self, timeout: float) -> bool:
        """Every input arrives but no set has been synchronized for ``timeout`` s since activation."""
        return (all(r in self.last_arrival for r in self.roles) and self.counts["sets_received"] == 0
                and time.monotonic() - self.active_since > timeout)

    def values(self, *, sets_dropped_stale: int, mailbox_pending: int, sync_queue_max: int) -> dict:
        c = self.counts
        lat = np.asarray(self._latency_ms, dtype=float)
        inf = np.asarray(self._inference_ms, dtype=float)
        t = list(self._published_at)
        rate = (len(t) - 1) / (t[-1] - t[0]) if len(t) >= 2 and t[-1] > t[0] else 0.0
        nan = float("nan")
        return {
            "sets_received": c["sets_received"], "frames_processed": c["frames_processed"],
            "frames_published": c["frames_published"], "sets_dropped_stale": sets_dropped_stale,
            "bad_frames": c["bad_frames"], "skipped_stamps": c["skipped_stamps"],
            "latency_ms_p50": float(np.median(lat)) if lat.size else nan,
            "latency_ms_p95": float(np.percentile(lat, 95)) if lat.size else nan,
            "inference_ms_p50": float(np.median(inf)) if inf.size else nan,
            "rate_hz": rate,
            "frames_no_depth": c["frames_no_depth"],
            "debug_images_published": c["debug_images_published"],
            "mailbox_pending": mailbox_pending,
            "sync_queue_max": sync_queue_max,
            **{f"received_{role}": n for role, n in self.received.items()},
            **{f"stage_ms_p50_{k}": float(np.median(np.asarray(v, dtype=float)))
               for k, v in list(self._stages.items()) if len(v)},
        }

    def status(self, values: dict, name: str, hardware_id: str) -> DiagnosticStatus:
        st = DiagnosticStatus(name=name, hardware_id=hardware_id, level=DiagnosticStatus.OK, message="ok")
        if self.counts["sets_received"] == 0:
            st.level, st.message = DiagnosticStatus.WARN, "no synchronized input yet"
        elif self.counts["bad_frames"] > 0 and self.counts["frames_processed"] == 0:
            st.level, st.message = DiagnosticStatus.ERROR, "every frame so far was rejected"
        st.values = [KeyValue(key=k, value=f"{v:.3f}" if isinstance(v, float) else str(v)) for k, v in values.items()]
        return st

    def message(self, values: dict, name: str, hardware_id: str, stamp) -> DiagnosticArray:
        arr = DiagnosticArray()
        arr.header.stamp = stamp
        arr.status = [self.status(values, name, hardware_id)]
        return arr
