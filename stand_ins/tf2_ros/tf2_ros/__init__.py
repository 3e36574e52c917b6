# Stand-in for ROS 2 tf2_ros (Python broadcasters only), used only where the real package is missing; see stand_ins/README.md
"""Minimal stand-in for ``tf2_ros``: TransformBroadcaster and StaticTransformBroadcaster only.

No Buffer / TransformListener / tf2_py here (the node only broadcasts). Behaviour follows
tf2_ros_py (Jazzy/Kilted): one TFMessage per sendTransform call; the static broadcaster keeps the
net message and republishes every child frame sent so far (PR #634).
"""

from tf2_ros.static_transform_broadcaster import StaticTransformBroadcaster
from tf2_ros.transform_broadcaster import TransformBroadcaster

__all__ = ['TransformBroadcaster', 'StaticTransformBroadcaster']
