"""A RealSense camera with depth aligned to color, and the kpfusion node on its topics.

    ros2 launch kpfusion_ros realsense_kpfusion.launch.py device:=cuda use_rviz:=true

Needs realsense2_camera (apt: ros-<distro>-realsense2-camera). The camera runs
with align_depth.enable:=true and a 640x480 @ 30 Hz color and depth profile;
its topics are /camera/camera/color/image_raw,
/camera/camera/aligned_depth_to_color/image_raw and
/camera/camera/color/camera_info, onto which kpfusion.launch.py remaps the
node's inputs (camera_ns:=/camera/camera). realsense-ros publishes images
reliable by default; the node's best-effort subscriptions receive them.
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, IncludeLaunchDescription
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration


def generate_launch_description():
    rs_share = get_package_share_directory("realsense2_camera")
    kpf_share = get_package_share_directory("kpfusion_ros")
    args = [
        DeclareLaunchArgument("device", default_value="auto", description="auto, cpu, cuda or cuda:N"),
        DeclareLaunchArgument("model", default_value="", description="Model checkpoint; empty = shipped weights"),
        DeclareLaunchArgument("use_rviz", default_value="true", choices=["true", "false"],
                              description="Start RViz"),
    ]
    camera = IncludeLaunchDescription(
        PythonLaunchDescriptionSource(os.path.join(rs_share, "launch", "rs_launch.py")),
        launch_arguments={
            "camera_namespace": "camera",
            "camera_name": "camera",
            "align_depth.enable": "true",
            "enable_sync": "true",
            "rgb_camera.color_profile": "640,480,30",
            "depth_module.depth_profile": "640,480,30",
            "pointcloud.enable": "false",
        }.items(),
    )
    kpfusion = IncludeLaunchDescription(
        PythonLaunchDescriptionSource(os.path.join(kpf_share, "launch", "kpfusion.launch.py")),
        launch_arguments={
            "camera_ns": "/camera/camera",
            "device": LaunchConfiguration("device"),
            "model": LaunchConfiguration("model"),
            "use_rviz": LaunchConfiguration("use_rviz"),
        }.items(),
    )
    return LaunchDescription(args + [camera, kpfusion])
