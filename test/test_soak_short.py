"""A ~20 s soak of the node at 30 Hz with two hands (the 10-minute version is `kpfusion-soak`, a benchmark).

Asserts bounded queues and no growth, never absolute timings:
- the one-slot mailbox holds at most one set and the synchronizer queues at most queue_size messages
  (both reported by the node's /diagnostics: mailbox_pending, sync_queue_max);
- every synchronized set is accounted for: processed + dropped stale + bad (+ at most the one in the mailbox);
- latency is printed, not asserted (wall-clock time is for benchmarks: `kpfusion-soak`); the queue bounds
  above are what keeps it bounded;
- resident memory of the node (VmRSS, sampled once a second) grows < 40 MB after a warm-up (5 s and at least 10 processed frames),
  and < 30 MB over the second half of the run, comparing the
  median of the last 5 samples with the median of the first 5. Rationale: RSS of this node fluctuates by ~±25 MB
  between single samples on a steady stream (torch's allocator caching per-batch-size
  buffers, DDS shared-memory segments being mapped as loans are taken, glibc arenas of the executor
  threads); a leak of one 640x480 set per frame would be ~1.5 MB x 100+ processed frames > 150 MB.
"""

from __future__ import annotations

import pytest

from conftest import in_private_netns, ros_available

pytestmark = pytest.mark.skipif(not ros_available(), reason="needs the colcon install: run `make test`")


def test_short_soak_bounded_queues_latency_and_memory(ros_domain, tmp_path):
    if not in_private_netns():
        pytest.fail("DDS tests must run inside the private network namespace: use `make test`")
    import json

    from helpers.cli import run_cli

    out = tmp_path / "soak.json"
    # through the command line (kpfusion-soak), as the 10-minute benchmark runs it
    proc = run_cli("kpfusion_ros.tools.soak", "--minutes", str(20.0 / 60.0), "--rate", "30", "--hands", "2",
                   "--warmup", "5", "--out", str(out))
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    res = json.loads(out.read_text())
    res["rss_mb"].pop("samples")
    print({k: v for k, v in res.items() if k != "node_diagnostics_end"})
    assert res["node_alive_at_end"]
    # ~100 frames in 20 s on an idle machine; on the saturated shared machine one forward pass took 13 s,
    # so only "something was processed" is asserted
    assert res["frames_processed"] >= 1
    assert res["bad_frames"] == 0
    # the node really publishes hands (poses, markers, TF: the full per-frame work is soaked), two per
    # array on this static two-hand scene once the tracks are confirmed
    assert res["hands_per_published_array"] >= 1.0, res["hands_per_published_array"]
    # bounded queues
    assert 0 <= res["sets_in_mailbox_at_end"] <= 1
    assert 0 <= res["sync_queue_max_at_end"] <= 10  # queue_size default
    # every set accounted for (the diagnostics snapshots are taken at different instants: ±1 in flight)
    accounted = res["frames_processed"] + res["sets_dropped_stale"] + res["bad_frames"]
    assert abs(res["sets_received"] - accounted) <= 2, res
    # Latency is reported (printed above) but not asserted: it is wall-clock time, which tests do not
    # assert on (benchmarks measure it: kpfusion-soak). What bounds it is asserted above: a one-slot
    # mailbox and synchronizer queues within queue_size, with every other set counted as dropped.
    # memory
    assert res["rss_mb"]["growth_median5"] < 40.0, res["rss_mb"]
    assert res["rss_mb"]["growth_second_half_median5"] < 30.0, res["rss_mb"]
    # per-stage times on /diagnostics (stamps are the driver's wall clock, as the node's):
    # `overhead` = stamp → HandPoseArray published minus that frame's forward time
    d = {k: float(v) for k, v in res["node_diagnostics_end"].items() if k.startswith(("stage_ms", "latency_ms"))}
    for k in ("receive", "handoff", "conversion", "localize", "crop", "forward", "decode", "messages", "publish",
              "overhead"):
        assert d[f"stage_ms_p50_{k}"] >= 0.0, k
    assert 0.0 < d["stage_ms_p50_overhead"] < d["latency_ms_p50"]
    assert d["stage_ms_p50_receive"] < d["latency_ms_p50"]
    # medians of different lists, so only roughly additive
    assert d["stage_ms_p50_overhead"] + d["stage_ms_p50_forward"] == pytest.approx(d["latency_ms_p50"], rel=0.3)
    own = sum(d[f"stage_ms_p50_{k}"] for k in ("conversion", "localize", "crop", "decode", "messages"))
    assert own < 1.3 * d["stage_ms_p50_overhead"]
