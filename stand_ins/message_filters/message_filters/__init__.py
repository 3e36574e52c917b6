# Stand-in for ROS 2 message_filters (Python API subset), used only where the real package is missing; see stand_ins/README.md
"""Minimal stand-in for the Python part of ROS 2 ``message_filters``.

Behaviour follows the upstream Python module (Humble 4.3.x / Jazzy 4.11.x / Kilted 7.1.x):
``SimpleFilter``, ``Subscriber``, ``Cache``, ``TimeSynchronizer`` and ``ApproximateTimeSynchronizer``.
Written from the documented behaviour (stand_ins/README.md), not copied.
"""

import itertools
import threading

import rclpy
import rclpy.logging
from rclpy.clock import ROSClock
from rclpy.duration import Duration
from rclpy.qos import QoSProfile
from rclpy.time import Time

__all__ = ['SimpleFilter', 'Subscriber', 'Cache', 'TimeSynchronizer', 'ApproximateTimeSynchronizer']

_HEADERLESS_WARNING = ("can not use message filters for messages without timestamp information when "
                       "'allow_headerless' is disabled. auto assign ROSTIME to headerless messages once "
                       "enabling constructor option of 'allow_headerless'.")


def _has_stamp(msg):
    return hasattr(msg, 'header') and hasattr(msg.header, 'stamp')


def _stamp_of(msg):
    """rclpy Time of msg.header.stamp (a Time passes through, as upstream)."""
    stamp = msg.header.stamp
    if not hasattr(stamp, 'nanoseconds'):
        stamp = Time.from_msg(stamp)
    return stamp


class SimpleFilter(object):
    """Base of every filter: a list of (callback, extra args), called in registration order."""

    def __init__(self):
        self.callbacks = {}

    def registerCallback(self, cb, *args):
        conn = len(self.callbacks)
        self.callbacks[conn] = (cb, args)
        return conn

    def signalMessage(self, *msg):
        for (cb, args) in list(self.callbacks.values()):
            cb(*(msg + args))


class Subscriber(SimpleFilter):
    """A subscription whose messages are passed to the connected filters.

    ``Subscriber(node, msg_type, topic, qos_profile=QoSProfile(depth=10), **kwargs)``; extra keyword
    arguments (``callback_group=``, ``event_callbacks=``, ``qos_overriding_options=`` ...) go to
    ``node.create_subscription`` unchanged, as upstream. The default QoS is depth 10, RELIABLE, as
    upstream: it receives nothing from a BEST_EFFORT publisher.
    """

    def __init__(self, node, msg_type, topic, qos_profile=None, **kwargs):
        SimpleFilter.__init__(self)
        if qos_profile is None:
            qos_profile = QoSProfile(depth=10)
        self.node = node
        self.topic = topic
        self.sub = node.create_subscription(msg_type, topic, self.callback, qos_profile=qos_profile, **kwargs)

    def callback(self, msg):
        self.signalMessage(msg)

    def getTopic(self):
        return self.topic

    def __getattr__(self, key):
        # only reached for attributes this object lacks: forward to the rclpy Subscription
        if key == 'sub':
            raise AttributeError(key)
        return getattr(self.sub, key)


class Cache(SimpleFilter):
    """Keeps the last ``cache_size`` messages of ``f`` with their stamps (arrival order, not sorted)."""

    def __init__(self, f, cache_size=1, allow_headerless=False):
        SimpleFilter.__init__(self)
        self.connectInput(f)
        self.cache_size = cache_size
        self.cache_msgs = []
        self.cache_times = []
        self.allow_headerless = allow_headerless

    def connectInput(self, f):
        self.incoming_connection = f.registerCallback(self.add)

    def add(self, msg):
        if not _has_stamp(msg):
            if not self.allow_headerless:
                rclpy.logging.get_logger('message_filters_cache').warning(_HEADERLESS_WARNING)
                return
            stamp = ROSClock().now()
        else:
            stamp = _stamp_of(msg)
        self.cache_times.append(stamp)
        self.cache_msgs.append(msg)
        if len(self.cache_msgs) > self.cache_size:
            del self.cache_msgs[0]
            del self.cache_times[0]
        self.signalMessage(msg)

    def getInterval(self, from_stamp, to_stamp):
        """Messages with from_stamp <= stamp <= to_stamp."""
        assert from_stamp <= to_stamp
        return [m for (m, t) in zip(self.cache_msgs, self.cache_times) if from_stamp <= t <= to_stamp]

    def getElemAfterTime(self, stamp):
        """The oldest message with stamp >= ``stamp`` (None if none)."""
        newer = [m for (m, t) in zip(self.cache_msgs, self.cache_times) if t >= stamp]
        return newer[0] if newer else None

    def getElemBeforeTime(self, stamp):
        """The newest message with stamp <= ``stamp`` (None if none)."""
        older = [m for (m, t) in zip(self.cache_msgs, self.cache_times) if t <= stamp]
        return older[-1] if older else None

    def getLastestTime(self):  # (sic) upstream spelling
        return self.cache_times[-1] if self.cache_times else None

    def getOldestTime(self):
        return self.cache_times[0] if self.cache_times else None

    def getLast(self):
        if self.getLastestTime() is None:
            return None
        return self.getElemAfterTime(self.getLastestTime())


class TimeSynchronizer(SimpleFilter):
    """Exact-time synchronizer: emits ``callback(msg_0, ..., msg_N)`` for a stamp present on every input.

    Each input keeps at most ``queue_size`` messages (dict keyed by stamp in ns; oldest dropped first; a
    later message with an equal stamp on the same input replaces the earlier one). After a set is emitted,
    every stored message older than its stamp is dropped (message_filters PR #238, released in Rolling
    7.3.5 and Humble 4.3.12 (backport #245), Kilted 7.1.5 (backport #243); matches the C++ ExactTime policy).
    """

    def __init__(self, fs, queue_size):
        SimpleFilter.__init__(self)
        self.connectInput(fs)
        self.queue_size = queue_size
        self.lock = threading.Lock()

    def connectInput(self, fs):
        self.queues = [{} for _ in fs]
        self.input_connections = [
            f.registerCallback(self.add, q, i) for i, (f, q) in enumerate(zip(fs, self.queues))]

    def add(self, msg, my_queue, my_queue_index=None):
        stamp = Time.from_msg(msg.header.stamp)  # headerless input: AttributeError, as the 2024 releases
        with self.lock:
            my_queue[stamp.nanoseconds] = msg
            while len(my_queue) > self.queue_size:
                del my_queue[min(my_queue)]
            common = set(self.queues[0]).intersection(*[set(q) for q in self.queues[1:]])
            if not common:
                return
            t = min(common)
            msgs = [q[t] for q in self.queues]
            self.signalMessage(*msgs)
            for q in self.queues:
                for k in [k for k in q if k <= t]:
                    del q[k]


class ApproximateTimeSynchronizer(TimeSynchronizer):
    """Approximate synchronizer of the upstream Python module (not the C++ adaptive policy).

    On each arrival (and only then) the new message is inserted in its input's queue (dict keyed by ns,
    oldest trimmed beyond ``queue_size``); for every other input the stamps within ``slop`` of the new one
    are taken, closest first; the first combination of the cartesian product (closest first) whose
    max - min < slop (strict) is emitted in input order and removed. At most one set per arrival.
    """

    def __init__(self, fs, queue_size, slop, allow_headerless=False):
        TimeSynchronizer.__init__(self, fs, queue_size)
        self.slop = Duration(seconds=slop)
        self.allow_headerless = allow_headerless

    def add(self, msg, my_queue, my_queue_index=None):
        if not _has_stamp(msg):
            if not self.allow_headerless:
                rclpy.logging.get_logger('message_filters_approx').warning(_HEADERLESS_WARNING)
                return
            stamp = ROSClock().now()
        else:
            stamp = _stamp_of(msg)
        with self.lock:
            my_queue[stamp.nanoseconds] = msg
            while len(my_queue) > self.queue_size:
                del my_queue[min(my_queue)]
            if my_queue_index is None:
                search_queues = self.queues
            else:
                search_queues = self.queues[:my_queue_index] + self.queues[my_queue_index + 1:]
            candidates = []
            for queue in search_queues:
                near = []
                for s in queue:
                    delta = Duration(nanoseconds=abs(s - stamp.nanoseconds))
                    if delta > self.slop:
                        continue
                    near.append((Time(nanoseconds=s, clock_type=stamp.clock_type), delta))
                if not near:
                    return
                near.sort(key=lambda x: x[1])
                candidates.append([t for t, _ in near])
            for combo in itertools.product(*candidates):
                combo = list(combo)
                if my_queue_index is not None:
                    combo.insert(my_queue_index, stamp)
                pairs = list(zip(self.queues, combo))
                if (max(combo) - min(combo)) < self.slop and all(t.nanoseconds in q for q, t in pairs):
                    msgs = [q[t.nanoseconds] for q, t in pairs]
                    self.signalMessage(*msgs)
                    for q, t in pairs:
                        del q[t.nanoseconds]
                    break
