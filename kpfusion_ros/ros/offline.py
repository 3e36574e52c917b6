"""The node's per-frame path over a recording, offline: no DDS, every frame, as fast as possible.

:func:`synchronized_sets` feeds a bag's color, depth and camera_info messages, in the bag's
order, to the same ``message_filters.ApproximateTimeSynchronizer`` the node uses;
:func:`process_bag` runs each synchronized set through a
:class:`~kpfusion_ros.ros.processing.FrameProcessor` (so the joints equal the live node's on the
same frames) and writes one HandPoseArray (header = the color image's) and its MarkerArray per
set into a new bag, optionally the joints as CSV (:data:`CSV_HEADER`). ``kpfusion-bag`` is the
command line around it.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Optional

CSV_HEADER = ["stamp", "hand_id", "joint", "x", "y", "z", "u", "v", "confidence"]


@dataclass
class OfflineStats:
    synchronized: int = 0  # sets the synchronizer produced (up to max_frames)
    skipped: int = 0  # of those, not processed (``every``)
    written: int = 0  # HandPoseArrays written
    bad: int = 0  # sets the processor rejected (FrameError)
    hands: int = 0  # hands in the written arrays


def synchronized_sets(bag: Path, color_topic: str, depth_topic: str, info_topic: str, queue_size: int,
                      slop: float, on_message: Callable[[str], None] = lambda topic: None) -> Iterator[tuple]:
    """(color, depth, camera_info) sets of ``bag`` in the order the node's synchronizer would emit them."""
    import message_filters

    from kpfusion_ros.ros import bagio

    inputs = [message_filters.SimpleFilter() for _ in range(3)]
    sync = message_filters.ApproximateTimeSynchronizer(inputs, queue_size, slop)
    sets: list[tuple] = []
    sync.registerCallback(lambda c, d, i: sets.append((c, d, i)))
    index = {color_topic: 0, depth_topic: 1, info_topic: 2}
    for topic, typ, _, raw in bagio.read_messages(bag, list(index)):
        inputs[index[topic]].signalMessage(bagio.deserialize(raw, typ))
        on_message(topic)
        while sets:
            yield sets.pop(0)


def csv_rows(poses) -> list[list]:
    """:data:`CSV_HEADER` rows of a HandPoseArray: one per hand and joint, values as repr (no rounding)."""
    from kpfusion_ros.joints import JOINT_NAMES

    st = poses.header.stamp
    stamp = f"{st.sec}.{st.nanosec:09d}"
    rows = []
    for h in poses.hands:
        for j, name in enumerate(JOINT_NAMES):
            p = h.joints[j]
            rows.append([stamp, h.id, name, repr(p.x), repr(p.y), repr(p.z), repr(float(h.pixel_u[j])),
                         repr(float(h.pixel_v[j])), repr(float(h.joint_confidence[j]))])
    return rows


def process_bag(processor, bag: Path, output: Path, color_topic: str, depth_topic: str, info_topic: str, *,
                queue_size: int, slop: float, output_ns: str = "/kpfusion", every: int = 1, max_frames: int = 0,
                csv_path: Optional[Path] = None, overwrite: bool = False, keep_poses: bool = False,
                on_message: Callable[[str], None] = lambda topic: None,
                on_frame: Callable = lambda processed: None,
                on_bad: Callable = lambda color, exc: None) -> tuple[OfflineStats, dict]:
    """Process every ``every``-th synchronized set (the first, then every N-th: N > 1 emulates a node that
    drops frames) of ``bag`` with ``processor``; write ``<output_ns>/hand_poses`` and
    ``<output_ns>/markers`` into the new MCAP bag ``output``. With ``max_frames`` > 0 it stops
    after the first frame written once ``max_frames`` sets were synchronized.

    Returns the counts and, with ``keep_poses``, {stamp ns: HandPoseArray} of the written frames.
    ``on_message(topic)`` after each input message, ``on_frame(ProcessedFrame)`` after each
    processed set, ``on_bad(color, FrameError)`` for each rejected one.
    """
    from kpfusion_ros.ros import bagio
    from kpfusion_ros.ros.conversions import FrameError

    ns = "/" + output_ns.strip("/")
    poses_topic, markers_topic = f"{ns}/hand_poses", f"{ns}/markers"
    stats, poses = OfflineStats(), {}
    csv_fh = open(csv_path, "w", newline="") if csv_path else None
    try:
        csv_w = csv.writer(csv_fh) if csv_fh else None
        if csv_w:
            csv_w.writerow(CSV_HEADER)
        with bagio.BagWriter(output, overwrite=overwrite) as out:
            out.add_topic(poses_topic, bagio.POSES_TYPE)
            out.add_topic(markers_topic, bagio.MARKERS_TYPE)
            for color, depth, info in synchronized_sets(bag, color_topic, depth_topic, info_topic, queue_size,
                                                        slop, on_message):
                stats.synchronized += 1
                if (stats.synchronized - 1) % every:
                    stats.skipped += 1
                else:
                    try:
                        fr = processor.process(color, depth, info)
                    except FrameError as exc:
                        stats.bad += 1
                        on_bad(color, exc)
                    else:
                        s = bagio.stamp_ns(color.header.stamp)
                        out.write(poses_topic, bagio.POSES_TYPE, s, fr.poses)
                        out.write(markers_topic, bagio.MARKERS_TYPE, s, fr.markers)
                        stats.written += 1
                        stats.hands += len(fr.poses.hands)
                        if keep_poses:
                            poses[s] = fr.poses
                        on_frame(fr)
                        if csv_w:
                            csv_w.writerows(csv_rows(fr.poses))
                        if max_frames and stats.synchronized >= max_frames:
                            break
    finally:
        if csv_fh:
            csv_fh.close()
    return stats, poses
