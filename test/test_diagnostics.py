"""NodeDiagnostics: the node's /diagnostics values, levels and the watchdog's silent inputs (no DDS)."""

from __future__ import annotations

import math
import time

import pytest

from conftest import ros_available

pytestmark = pytest.mark.skipif(not ros_available(), reason="needs diagnostic_msgs (the colcon install)")


def _diag():
    from kpfusion_ros.ros.diagnostics import NodeDiagnostics

    return NodeDiagnostics(("color", "depth", "camera_info"))


def _values(d):
    return d.values(sets_dropped_stale=2, mailbox_pending=1, sync_queue_max=4)


def test_levels_follow_what_the_node_saw():
    from diagnostic_msgs.msg import DiagnosticStatus

    d = _diag()
    st = d.status(_values(d), "n", "cpu")
    assert (st.level, st.message, st.name, st.hardware_id) == (DiagnosticStatus.WARN, "no synchronized input yet",
                                                             "n", "cpu")
    d.count("sets_received", 3)
    d.count("bad_frames", 3)
    assert d.status(_values(d), "n", "cpu").level == DiagnosticStatus.ERROR
    d.count("frames_processed")
    st = d.status(_values(d), "n", "cpu")
    assert (st.level, st.message) == (DiagnosticStatus.OK, "ok")


def test_values_counts_percentiles_rate_and_stages():
    d = _diag()
    v = _values(d)
    assert math.isnan(v["latency_ms_p50"]) and v["rate_hz"] == 0.0 and v["frames_published"] == 0
    assert (v["sets_dropped_stale"], v["mailbox_pending"], v["sync_queue_max"]) == (2, 1, 4)
    for role in ("color", "color", "depth"):
        d.arrived(role)
    for k, lat in enumerate((10.0, 20.0, 30.0, 40.0)):
        d.published(lat, 5.0 + k, {"forward": 4.0 + k, "publish": 0.5})
        time.sleep(0.01)
    v = _values(d)
    assert (v["received_color"], v["received_depth"], v["received_camera_info"]) == (2, 1, 0)
    assert v["frames_published"] == 4 and v["latency_ms_p50"] == 25.0 and v["inference_ms_p50"] == 6.5
    assert v["latency_ms_p95"] == pytest.approx(38.5)
    assert v["stage_ms_p50_forward"] == 5.5 and v["stage_ms_p50_publish"] == 0.5
    assert 0.0 < v["rate_hz"] < 1000.0
    st = d.status(v, "n", "cpu")
    kv = {x.key: x.value for x in st.values}
    assert kv["latency_ms_p50"] == "25.000" and kv["received_color"] == "2" and list(kv) == list(v)


def test_silent_inputs_and_unsynchronized_streams():
    d = _diag()
    assert d.silent_inputs(10.0) == [] and not d.unsynchronized(0.0)
    time.sleep(0.05)
    assert [(r, never) for r, _, never in d.silent_inputs(0.01)] == [("color", True), ("depth", True),
                                                                     ("camera_info", True)]
    d.arrived("color")
    d.arrived("depth")
    assert [r for r, _, _ in d.silent_inputs(0.01)] == ["camera_info"]
    d.arrived("camera_info")
    assert d.unsynchronized(0.0)  # everything arrives, nothing synchronized
    d.count("sets_received")
    assert not d.unsynchronized(0.0)
    d.activated()
    assert d.silent_inputs(10.0) == []
