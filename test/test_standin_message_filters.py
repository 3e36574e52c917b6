"""message_filters (stand-in under stand_ins/, or the real package where installed): documented behaviour.

The synchronizer algorithms are driven through Subscriber-like SimpleFilters (signalMessage) with real
sensor_msgs headers; one DDS test checks Subscriber QoS (sensor data vs the RELIABLE default).
"""

import time

import pytest

message_filters = pytest.importorskip("message_filters")
from builtin_interfaces.msg import Time as TimeMsg  # noqa: E402
from rclpy.clock import ClockType  # noqa: E402
from rclpy.time import Time  # noqa: E402
from sensor_msgs.msg import CameraInfo, Image  # noqa: E402

MS = 1_000_000
with open(message_filters.__file__) as _fh:
    STAND_IN = "Stand-in" in _fh.readline()


def stamp(ms):
    ns = int(round(ms * MS))
    return TimeMsg(sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000)


def img(ms, tag=""):
    m = Image()
    m.header.stamp = stamp(ms)
    m.header.frame_id = tag
    return m


def info(ms, tag=""):
    m = CameraInfo()
    m.header.stamp = stamp(ms)
    m.header.frame_id = tag
    return m


def ms_of(msg):
    return Time.from_msg(msg.header.stamp).nanoseconds / MS


class Rig:
    def __init__(self, n=2, queue_size=10, slop=None):
        self.inputs = [message_filters.SimpleFilter() for _ in range(n)]
        if slop is None:
            self.sync = message_filters.TimeSynchronizer(self.inputs, queue_size)
        else:
            self.sync = message_filters.ApproximateTimeSynchronizer(self.inputs, queue_size, slop)
        self.out = []
        self.sync.registerCallback(lambda *msgs: self.out.append(tuple(ms_of(m) for m in msgs)))

    def feed(self, i, ms):
        msg = img(ms) if i == 0 else info(ms)
        self.inputs[i].signalMessage(msg)


def test_simple_filter_callbacks_in_order_with_args():
    f = message_filters.SimpleFilter()
    seen = []
    assert f.registerCallback(lambda m, a: seen.append((1, m, a)), "x") == 0
    assert f.registerCallback(lambda m: seen.append((2, m))) == 1
    f.signalMessage("m")
    assert seen == [(1, "m", "x"), (2, "m")]


def test_approximate_pairs_within_slop_once():
    r = Rig(slop=0.02)
    r.feed(0, 1000)
    assert r.out == []
    r.feed(1, 1015)
    assert r.out == [(1000, 1015)]
    # emitted entries are deleted: a further message near 1000 does not re-emit them
    r.feed(1, 1005)
    assert r.out == [(1000, 1015)]


def test_approximate_never_pairs_outside_slop_and_strictness():
    r = Rig(slop=0.02)
    r.feed(0, 1000)
    r.feed(1, 1030)          # 30 ms > slop
    r.feed(1, 1020)          # exactly slop: candidate (delta <= slop) but max-min < slop fails
    assert r.out == []
    r.feed(0, 1023)          # 3 ms from 1020, 7 ms from 1030: closest first -> 1020
    assert r.out == [(1023, 1020)]


def test_approximate_closest_candidate_first():
    r = Rig(slop=0.05)
    r.feed(1, 990)
    r.feed(1, 1004)
    r.feed(1, 1030)
    r.feed(0, 1000)
    assert r.out == [(1000, 1004)]
    assert sorted(r.sync.queues[1]) == [990 * MS, 1030 * MS]


def test_approximate_only_new_message_starts_a_match():
    r = Rig(n=3, slop=0.02)
    r.feed(0, 1000)
    r.feed(1, 1030)          # no partner on input 2 yet
    r.feed(2, 1031)          # pairs with 1030 on input 1, but input 0 has nothing within slop -> no emit
    assert r.out == []
    # 1030/1031 remain; a new input-0 message near them triggers the match
    r.feed(0, 1029)
    assert r.out == [(1029, 1030, 1031)]
    # the old 1000 is still stored (only overflow removes unmatched ones)
    assert 1000 * MS in r.sync.queues[0]


def test_approximate_one_set_per_arrival():
    r = Rig(n=2, slop=0.1)
    for ms in (1000, 1001, 1002):
        r.feed(0, ms)
    r.feed(1, 1001)
    assert r.out == [(1001, 1001)]
    assert len(r.sync.queues[0]) == 2


def test_approximate_forgets_on_queue_overflow():
    r = Rig(n=2, queue_size=3, slop=0.02)
    for ms in (1000, 1100, 1200, 1300):     # 4 > queue_size: 1000 dropped
        r.feed(0, ms)
    assert sorted(r.sync.queues[0]) == [1100 * MS, 1200 * MS, 1300 * MS]
    r.feed(1, 1001)
    assert r.out == []
    r.feed(1, 1101)
    assert r.out == [(1100, 1101)]


def test_approximate_headerless_dropped_unless_allowed():
    a, b = message_filters.SimpleFilter(), message_filters.SimpleFilter()
    sync = message_filters.ApproximateTimeSynchronizer([a, b], 5, 0.1)
    out = []
    sync.registerCallback(lambda *m: out.append(m))
    a.signalMessage("no header")
    assert sync.queues[0] == {}


def test_exact_sync_matches_equal_stamps_only():
    r = Rig(slop=None)
    r.feed(0, 1000)
    r.feed(1, 1000.5)
    assert r.out == []
    r.feed(1, 1000)
    assert r.out == [(1000, 1000)]
    assert r.sync.queues[0] == {}


def test_exact_sync_queue_overflow():
    r = Rig(queue_size=2, slop=None)
    for ms in (1, 2, 3):
        r.feed(0, ms)
    r.feed(1, 1)
    assert r.out == []
    r.feed(1, 3)
    assert r.out == [(3, 3)]


@pytest.mark.skipif(not STAND_IN, reason="only releases with message_filters PR #238 drop older entries")
def test_exact_sync_drops_entries_older_than_last_emitted():
    # PR #238 behaviour (Rolling 7.3.5, Humble 4.3.12, Kilted 7.1.5): after emitting stamp t, older
    # stored entries are dropped.
    r = Rig(slop=None)
    r.feed(0, 1)
    r.feed(0, 2)
    r.feed(1, 2)
    assert r.out == [(2, 2)]
    assert r.sync.queues[0] == {}
    r.feed(1, 1)
    assert r.out == [(2, 2)]


def test_cache_queries():
    src = message_filters.SimpleFilter()
    cache = message_filters.Cache(src, cache_size=3)
    assert cache.getLast() is None and cache.getLastestTime() is None and cache.getOldestTime() is None
    got = []
    cache.registerCallback(got.append)
    msgs = [img(ms, str(ms)) for ms in (100, 200, 300, 400)]
    for m in msgs:
        src.signalMessage(m)
    assert got == msgs                                  # passes every message on
    t = lambda ms: Time(nanoseconds=ms * MS, clock_type=ClockType.ROS_TIME)  # noqa: E731
    assert cache.getOldestTime() == t(200) and cache.getLastestTime() == t(400)
    assert cache.getLast() is msgs[3]
    assert cache.getInterval(t(150), t(300)) == msgs[1:3]
    assert cache.getInterval(t(200), t(400)) == msgs[1:]   # inclusive
    assert cache.getElemAfterTime(t(250)) is msgs[2]
    assert cache.getElemAfterTime(t(300)) is msgs[2]
    assert cache.getElemBeforeTime(t(350)) is msgs[2]
    assert cache.getElemBeforeTime(t(100)) is None
    assert cache.getElemAfterTime(t(500)) is None


def _spin_until(executor, cond, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end and not cond():
        executor.spin_once(timeout_sec=0.05)
    return cond()


def test_dds_subscribers_sensor_qos_and_reliable_default(rclpy_context):
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data

    node = rclpy.create_node("mf_standin_test", context=rclpy_context)
    ex = SingleThreadedExecutor(context=rclpy_context)
    ex.add_node(node)
    try:
        be = QoSProfile(depth=5, reliability=ReliabilityPolicy.BEST_EFFORT)
        pub_img = node.create_publisher(Image, "/mf_test/image", be)
        pub_info = node.create_publisher(CameraInfo, "/mf_test/camera_info", be)
        sub_img = message_filters.Subscriber(node, Image, "/mf_test/image", qos_profile=qos_profile_sensor_data)
        sub_info = message_filters.Subscriber(node, CameraInfo, "/mf_test/camera_info",
                                              qos_profile=qos_profile_sensor_data)
        reliable_only = message_filters.Subscriber(node, Image, "/mf_test/image")  # default: RELIABLE
        assert sub_img.getTopic() == "/mf_test/image"
        assert sub_img.topic_name == "/mf_test/image"                  # __getattr__ forwards to .sub
        assert reliable_only.sub.qos_profile.reliability == ReliabilityPolicy.RELIABLE
        got_reliable = []
        reliable_only.registerCallback(got_reliable.append)
        sync = message_filters.ApproximateTimeSynchronizer([sub_img, sub_info], 10, 0.05)
        pairs = []
        sync.registerCallback(lambda a, b: pairs.append((a, b)))

        assert _spin_until(ex, lambda: pub_img.get_subscription_count() >= 1
                           and pub_info.get_subscription_count() >= 1)
        k = 0
        end = time.monotonic() + 10
        while not pairs and time.monotonic() < end:
            k += 1
            pub_img.publish(img(1000 + 100 * k, "i"))
            pub_info.publish(info(1000 + 100 * k + 3, "c"))
            _spin_until(ex, lambda: bool(pairs), timeout=0.2)
        assert pairs, "synchronizer never fired"
        a, b = pairs[0]
        assert isinstance(a, Image) and isinstance(b, CameraInfo)
        assert abs(ms_of(a) - ms_of(b)) == pytest.approx(3)
        _spin_until(ex, lambda: False, timeout=0.3)
        assert got_reliable == []      # BEST_EFFORT publisher -> RELIABLE subscriber: incompatible
        node.destroy_subscription(reliable_only.sub)
    finally:
        ex.shutdown()
        node.destroy_node()
