"""rosbag2 reading and writing for the demo, the player and ``kpfusion-bag`` (no DDS needed).

Bags are read and written with ``rosbags`` (sqlite3 or MCAP, no ROS install), and
messages are (de)serialized with rclpy's own CDR serializer, so the bytes in a
bag are exactly what a ROS 2 publisher sends and deserialized messages are real
rclpy messages (what :class:`~kpfusion_ros.ros.processing.FrameProcessor` takes).
Bags we write are MCAP with zstd chunk compression, a standard ``metadata.yaml``
and the message definitions embedded (``ros2 bag play``/``info`` read them).
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Optional

from kpfusion_ros import node_config as _nc

# the realsense-ros topics the launch files remap the node's inputs to
COLOR_TOPIC = _nc.realsense_topic(_nc.COLOR_TOPIC)
DEPTH_TOPIC = _nc.realsense_topic(_nc.DEPTH_TOPIC)
INFO_TOPIC = _nc.realsense_topic(_nc.CAMERA_INFO_TOPIC)
DEPTH_INFO_TOPIC = "/camera/camera/aligned_depth_to_color/camera_info"
GT_TOPIC = "/ground_truth/hand_poses"
OPTICAL_FRAME = "camera_color_optical_frame"
IMAGE_TYPE = "sensor_msgs/msg/Image"
INFO_TYPE = "sensor_msgs/msg/CameraInfo"
POSES_TYPE = "kpfusion_ros/msg/HandPoseArray"
MARKERS_TYPE = "visualization_msgs/msg/MarkerArray"
BAG_VERSION = 9  # rosbag2 metadata version written by Jazzy and Kilted


class TopicError(ValueError):
    """A topic the tool needs is not in the bag (the message lists what the bag has)."""


def msg_dir() -> Path:
    """Directory of our .msg files: the colcon install's share/kpfusion_ros/msg, else the source tree."""
    cands = []
    try:
        from ament_index_python.packages import get_package_share_directory

        cands.append(Path(get_package_share_directory("kpfusion_ros")) / "msg")
    except Exception:
        pass
    for p in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep):
        if p:
            cands.append(Path(p) / "share" / "kpfusion_ros" / "msg")
    cands.append(Path(__file__).resolve().parents[2] / "msg")
    for c in cands:
        if (c / "HandPoseArray.msg").is_file():
            return c
    raise FileNotFoundError("kpfusion_ros message definitions (msg/HandPoseArray.msg) not found")


_TYPESTORE = None


def typestore():
    """A rosbags typestore (ROS 2 Kilted message set) with kpfusion_ros/msg/HandPose(Array) registered."""
    global _TYPESTORE
    if _TYPESTORE is None:
        from rosbags.typesys import Stores, get_types_from_msg, get_typestore

        store = get_typestore(Stores.ROS2_KILTED)
        d = msg_dir()
        types = {}
        for name in ("HandPose", "HandPoseArray"):
            types.update(get_types_from_msg((d / f"{name}.msg").read_text(), f"kpfusion_ros/msg/{name}"))
        store.register(types)
        _TYPESTORE = store
    return _TYPESTORE


def msg_class(msgtype: str):
    """rclpy message class of 'pkg/msg/Name' (or 'pkg/Name')."""
    parts = msgtype.split("/")
    pkg, name = parts[0], parts[-1]
    return getattr(importlib.import_module(f"{pkg}.msg"), name)


def serialize(msg) -> bytes:
    from rclpy.serialization import serialize_message

    return serialize_message(msg)


def canonical_cdr(raw: bytes, msgtype: str) -> bytes:
    """The same CDR message with zeroed alignment padding (rclpy/Fast-CDR leaves padding bytes
    uninitialised, so its bytes for equal messages can differ); re-encoded by rosbags."""
    ts = typestore()
    return bytes(ts.serialize_cdr(ts.deserialize_cdr(bytes(raw), msgtype), msgtype))


def deserialize(raw: bytes, msgtype: str):
    from rclpy.serialization import deserialize_message

    return deserialize_message(bytes(raw), msg_class(msgtype))


def stamp_ns(stamp) -> int:
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


def time_msg(ns: int):
    from builtin_interfaces.msg import Time

    return Time(sec=int(ns // 1_000_000_000), nanosec=int(ns % 1_000_000_000))


# ---------------------------------------------------------------------------------------------------
@dataclass
class TopicInfo:
    name: str
    msgtype: str
    count: int


def _reader(path: Path):
    from rosbags.rosbag2 import Reader

    return Reader(path)


def bag_topics(path: Path | str) -> dict[str, TopicInfo]:
    """Topics of a rosbag2 bag (directory with metadata.yaml, sqlite3 or MCAP)."""
    with _reader(Path(path)) as r:
        out: dict[str, TopicInfo] = {}
        for c in r.connections:
            t = out.get(c.topic)
            out[c.topic] = TopicInfo(c.topic, c.msgtype, c.msgcount + (t.count if t else 0))
        return out


def describe_topics(topics: dict[str, TopicInfo]) -> str:
    return "\n".join(f"  {t.name}  [{t.msgtype}]  {t.count} msgs" for t in sorted(topics.values(), key=lambda t: t.name))


def check_topics(path: Path | str, wanted: dict[str, tuple[str, str]]) -> dict[str, TopicInfo]:
    """``wanted``: {topic: (expected type, flag)}; raises TopicError listing the bag's topics on a mismatch."""
    topics = bag_topics(path)
    problems = []
    for topic, (typ, flag) in wanted.items():
        t = topics.get(topic)
        if t is None:
            problems.append(f"topic '{topic}' ({flag}) is not in the bag")
        elif t.msgtype != typ:
            problems.append(f"topic '{topic}' ({flag}) is {t.msgtype}, expected {typ}")
    if problems:
        raise TopicError("; ".join(problems) + f".\nThe bag {path} has these topics:\n" + describe_topics(topics)
                         + "\nPass the right names with --color-topic, --depth-topic and --info-topic.")
    return topics


def check_camera_topics(path: Path | str, color_topic: str, depth_topic: str, info_topic: str) -> dict[str, TopicInfo]:
    """:func:`check_topics` for the node's three inputs (named by the tools' --color/--depth/--info-topic)."""
    return check_topics(path, {color_topic: (IMAGE_TYPE, "--color-topic"), depth_topic: (IMAGE_TYPE, "--depth-topic"),
                               info_topic: (INFO_TYPE, "--info-topic")})


def read_messages(path: Path | str, topics: Optional[Iterable[str]] = None) -> Iterator[tuple[str, str, int, bytes]]:
    """(topic, msgtype, log time ns, raw CDR bytes) in log-time order."""
    with _reader(Path(path)) as r:
        want = set(topics) if topics is not None else None
        conns = [c for c in r.connections if want is None or c.topic in want]
        if not conns:
            return
        for c, t, raw in r.messages(connections=conns):
            yield c.topic, c.msgtype, t, raw


def read_stamped(path: Path | str, topic: str) -> dict:
    """{header stamp ns: message} of a topic whose messages have a header (e.g. HandPoseArray)."""
    out = {}
    for _, typ, _, raw in read_messages(path, [topic]):
        m = deserialize(raw, typ)
        out[stamp_ns(m.header.stamp)] = m
    return out


class BagWriter:
    """rosbag2 MCAP writer (zstd chunk compression) taking raw CDR bytes or rclpy messages."""

    def __init__(self, path: Path | str, compress: bool = True, overwrite: bool = False):
        from rosbags.rosbag2 import StoragePlugin, Writer
        from rosbags.rosbag2.enums import CompressionFormat, CompressionMode

        self.path = Path(path)
        if self.path.exists():
            if not overwrite:
                raise FileExistsError(f"{self.path} exists (choose another output or remove it)")
            import shutil

            shutil.rmtree(self.path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._w = Writer(self.path, version=BAG_VERSION, storage_plugin=StoragePlugin.MCAP)
        if compress:
            self._w.set_compression(CompressionMode.STORAGE, CompressionFormat.ZSTD)
        self._w.open()
        self._conns: dict[str, object] = {}
        self.counts: dict[str, int] = {}

    def add_topic(self, topic: str, msgtype: str) -> None:
        if topic not in self._conns:
            self._conns[topic] = self._w.add_connection(topic, msgtype, typestore=typestore())
            self.counts[topic] = 0

    def write_raw(self, topic: str, msgtype: str, t_ns: int, raw: bytes) -> None:
        self.add_topic(topic, msgtype)
        self._w.write(self._conns[topic], int(t_ns), bytes(raw))
        self.counts[topic] += 1

    def write(self, topic: str, msgtype: str, t_ns: int, msg) -> None:
        """Write an rclpy message (canonical CDR: alignment padding zeroed, so equal messages give equal bytes)."""
        self.write_raw(topic, msgtype, t_ns, canonical_cdr(serialize(msg), msgtype))

    def close(self) -> None:
        if self._w is not None:
            self._w.close()
            self._w = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def bag_size_bytes(path: Path | str) -> int:
    p = Path(path)
    return sum(f.stat().st_size for f in p.rglob("*") if f.is_file()) if p.is_dir() else p.stat().st_size
