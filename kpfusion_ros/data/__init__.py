"""Data sources for training and evaluation (ROS-free).

:mod:`kpfusion_ros.data.synthetic` renders aligned RGB-D hand frames with exact
21-joint labels; public hand datasets are not available on our machines.
"""
