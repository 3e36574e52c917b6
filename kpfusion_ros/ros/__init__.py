"""The ROS 2 layer: node, message conversions, markers and TF.

These modules import rclpy and the generated messages; nothing in the core
(`kpfusion_ros.model`, geometry, data, training, evaluation) imports them.
"""
