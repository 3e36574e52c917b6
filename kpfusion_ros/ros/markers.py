"""RViz markers for the estimated hands (visualization_msgs/MarkerArray).

Per hand (namespace ``kpfusion_hands``, ids ``track_id*10 + k``): a SPHERE_LIST
with one sphere per valid joint coloured by finger (k=0), the bones as a
LINE_LIST coloured per finger (k=1), and a TEXT_VIEW_FACING label with the id and
confidence above the wrist (k=2). Markers of hands that vanished since the last
call are removed with DELETE; every marker also has a lifetime so that nothing
stale stays on screen if the node stops. ``delete_all`` clears the namespace
(DELETEALL with ``ns`` set, rviz2 ≥ Humble).
"""

from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np
from builtin_interfaces.msg import Duration
from geometry_msgs.msg import Point
from std_msgs.msg import ColorRGBA, Header
from visualization_msgs.msg import Marker, MarkerArray

from kpfusion_ros.hand import HandEstimate
from kpfusion_ros.joints import BONES, FINGER_COLORS, JOINT_FINGER

NAMESPACE = "kpfusion_hands"
PARTS = 3  # joints, bones, label


def _color(finger: str, alpha: float = 1.0) -> ColorRGBA:
    r, g, b = FINGER_COLORS[finger]
    return ColorRGBA(r=float(r), g=float(g), b=float(b), a=float(alpha))


def _duration(seconds: float) -> Duration:
    s = max(float(seconds), 0.0)
    return Duration(sec=int(s), nanosec=int(round((s - int(s)) * 1e9)) % 1_000_000_000)


def marker_ids(track_id: int) -> list[int]:
    return [int(track_id) * 10 + k for k in range(PARTS)]


def _base(header, mid: int, mtype: int, lifetime: float) -> Marker:
    m = Marker()
    m.header = header
    m.ns = NAMESPACE
    m.id = mid
    m.type = mtype
    m.action = Marker.ADD
    m.pose.orientation.w = 1.0
    m.lifetime = _duration(lifetime)
    m.frame_locked = False
    return m


def hand_markers(header, hand: HandEstimate, *, joint_radius: float = 0.008, bone_width: float = 0.004,
                 lifetime: float = 0.5) -> list[Marker]:
    ids = marker_ids(hand.track_id)
    valid = hand.valid_mask()
    joints = np.asarray(hand.joints_m, dtype=np.float64)

    spheres = _base(header, ids[0], Marker.SPHERE_LIST, lifetime)
    spheres.scale.x = spheres.scale.y = spheres.scale.z = 2.0 * joint_radius
    for j in np.flatnonzero(valid):
        spheres.points.append(Point(x=joints[j, 0], y=joints[j, 1], z=joints[j, 2]))
        spheres.colors.append(_color(JOINT_FINGER[j]))

    bones = _base(header, ids[1], Marker.LINE_LIST, lifetime)
    bones.scale.x = bone_width
    for p, c in BONES:
        if valid[p] and valid[c]:
            col = _color(JOINT_FINGER[c])
            for j in (p, c):
                bones.points.append(Point(x=joints[j, 0], y=joints[j, 1], z=joints[j, 2]))
                bones.colors.append(col)

    label = _base(header, ids[2], Marker.TEXT_VIEW_FACING, lifetime)
    label.scale.z = 0.025
    label.color = ColorRGBA(r=1.0, g=1.0, b=1.0, a=1.0)
    label.text = f"hand {hand.track_id} ({hand.confidence:.2f})"
    anchor = joints[0] if valid[0] else (joints[valid].mean(axis=0) if valid.any() else np.asarray(hand.center_m))
    label.pose.position = Point(x=float(anchor[0]), y=float(anchor[1]) - 0.04, z=float(anchor[2]))
    return [spheres, bones, label]


def delete_markers(header, track_ids: Iterable[int]) -> list[Marker]:
    out = []
    for tid in track_ids:
        for mid in marker_ids(tid):
            m = Marker()
            m.header = header
            m.ns = NAMESPACE
            m.id = mid
            m.action = Marker.DELETE
            out.append(m)
    return out


def delete_all(header) -> MarkerArray:
    m = Marker()
    m.header = header
    m.ns = NAMESPACE
    m.action = Marker.DELETEALL
    return MarkerArray(markers=[m])


class MarkerPublisherState:
    """Remembers which hands have markers on screen so vanished ones get a DELETE."""

    def __init__(self) -> None:
        self.shown: set[int] = set()

    def build(self, header, hands: Sequence[HandEstimate], **style) -> MarkerArray:
        now = {h.track_id for h in hands}
        markers = delete_markers(header, sorted(self.shown - now))
        for h in hands:
            markers.extend(hand_markers(header, h, **style))
        self.shown = now
        return MarkerArray(markers=markers)

    def clear(self, header=None) -> MarkerArray:
        """DELETEALL of the namespace (``header``: the last frame's; none yet: an empty frame id); forgets every hand."""
        self.shown = set()
        return delete_all(header if header is not None else Header(frame_id=""))
