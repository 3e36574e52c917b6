"""kpfusion_ros: Keypoint-Fusion RGB-D hand pose estimation (AAAI-24) for ROS 2.

Importing this package imports nothing from ROS. The ROS layer lives in
:mod:`kpfusion_ros.ros` and is imported only by the node and its tools; the
generated messages (``kpfusion_ros.msg``) exist only in a colcon install.
"""

__version__ = "0.1.0"
