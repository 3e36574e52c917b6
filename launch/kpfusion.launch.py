"""Launch the kpfusion hand pose node (and optionally RViz).

    ros2 launch kpfusion_ros kpfusion.launch.py camera_ns:=/camera/camera device:=cuda use_rviz:=true

The node subscribes to the relative topics color/image_raw, depth/image_raw and
color/camera_info; this file remaps them onto a realsense-ros style camera:
<camera_ns>/color/image_raw, <camera_ns>/aligned_depth_to_color/image_raw and
<camera_ns>/color/camera_info. Their QoS is overridden with the standard
qos_overrides.<remapped topic>.subscription.{reliability,history,depth} parameters
(e.g. in params_file).

Arguments: camera_ns (namespace of the camera's topics), color_topic / depth_topic /
camera_info_topic (remap one input elsewhere; empty = derived from camera_ns),
model (checkpoint path; empty = shipped weights), device (auto|cpu|cuda|cuda:N),
params_file (YAML with every parameter; default config/kpfusion.yaml), use_rviz,
node_name, namespace.
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration, PythonExpression
from launch_ros.actions import Node


def generate_launch_description():
    share = get_package_share_directory("kpfusion_ros")
    args = [
        DeclareLaunchArgument("camera_ns", default_value="/camera/camera",
                              description="Namespace of the camera driver's topics (realsense-ros: /camera/camera)"),
        DeclareLaunchArgument("color_topic", default_value="",
                              description="Remap color/image_raw here; empty = <camera_ns>/color/image_raw"),
        DeclareLaunchArgument("depth_topic", default_value="",
                              description="Remap depth/image_raw here; empty = "
                              "<camera_ns>/aligned_depth_to_color/image_raw"),
        DeclareLaunchArgument("camera_info_topic", default_value="",
                              description="Remap color/camera_info here; empty = <camera_ns>/color/camera_info"),
        DeclareLaunchArgument("model", default_value="", description="Model checkpoint; empty = shipped weights"),
        DeclareLaunchArgument("device", default_value="auto", description="auto, cpu, cuda or cuda:N",
                              choices=["auto", "cpu", "cuda", "cuda:0", "cuda:1", "cuda:2", "cuda:3"]),
        DeclareLaunchArgument("params_file", default_value=os.path.join(share, "config", "kpfusion.yaml"),
                              description="Parameter file (every parameter with comments)"),
        DeclareLaunchArgument("use_rviz", default_value="false", choices=["true", "false"],
                              description="Start RViz with the package's display config"),
        DeclareLaunchArgument("node_name", default_value="kpfusion", description="Name of the node"),
        DeclareLaunchArgument("namespace", default_value="", description="Namespace of the node"),
    ]
    ns = LaunchConfiguration("camera_ns")

    def topic(arg, suffix):
        given = LaunchConfiguration(arg)
        return PythonExpression(["'", given, "' if '", given, "' else '", ns, suffix, "'"])

    # the node's input (relative name) -> the camera's topic (realsense-ros names under camera_ns)
    remappings = [
        ("color/image_raw", topic("color_topic", "/color/image_raw")),
        ("depth/image_raw", topic("depth_topic", "/aligned_depth_to_color/image_raw")),
        ("color/camera_info", topic("camera_info_topic", "/color/camera_info")),
    ]

    node = Node(
        package="kpfusion_ros",
        executable="kpfusion_node",
        name=LaunchConfiguration("node_name"),
        namespace=LaunchConfiguration("namespace"),
        output="screen",
        remappings=remappings,
        parameters=[
            LaunchConfiguration("params_file"),
            {
                "model_path": LaunchConfiguration("model"),
                "device": LaunchConfiguration("device"),
            },
        ],
    )
    rviz = Node(
        package="rviz2",
        executable="rviz2",
        name="kpfusion_rviz",
        arguments=["-d", os.path.join(share, "config", "kpfusion.rviz")],
        condition=IfCondition(LaunchConfiguration("use_rviz")),
    )
    return LaunchDescription(args + [node, rviz])
