"""Webcam graph: camera -> emotion node -> /fer/emotions.

    ros2 launch fer_ros webcam.launch.py [video:=/path/to/clip.mp4] [params_file:=my.yaml]

The nodes come from fer_ros.graph.GRAPH, the same description fer-run uses.
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, SetEnvironmentVariable
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from fer_ros.graph import CAMERA, GRAPH, PACKAGE, PARAMS_FILE, config_dir, dds_environment


def generate_launch_description() -> LaunchDescription:
    params = LaunchConfiguration("params_file")
    video = LaunchConfiguration("video")
    actions = [
        DeclareLaunchArgument("params_file", default_value=str(config_dir() / PARAMS_FILE),
                              description="node parameters (YAML)"),
        DeclareLaunchArgument("video", default_value="",
                              description="video file to play instead of the camera"),
    ]
    actions += [SetEnvironmentVariable(key, value) for key, value in dds_environment().items()]
    for spec in GRAPH:
        overrides = [{"video": video}] if spec == CAMERA else []
        actions.append(Node(package=PACKAGE, executable=spec.executable, name=spec.name,
                            namespace=spec.namespace, parameters=[params, *overrides],
                            output="screen"))
    return LaunchDescription(actions)
