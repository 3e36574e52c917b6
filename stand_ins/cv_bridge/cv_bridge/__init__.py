# Stand-in for ROS 2 cv_bridge (Python CvBridge subset), used only where the real package is missing; see stand_ins/README.md
from cv_bridge.core import CvBridge, CvBridgeError

__all__ = ['CvBridge', 'CvBridgeError']
