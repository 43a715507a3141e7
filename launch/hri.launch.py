"""ROS4HRI graph: ROS4HRI's hri_face_detect finds and tracks the faces, our hri_expression node
answers each face's /humans/faces/<id>/expression (a drop-in for hri_emotion_recognizer).

    ros2 launch fer_ros hri.launch.py [rgb_camera_topic:=/camera/image_raw]
        [rgb_camera_info:=/camera/camera_info] [face_detect:=true|false] [params_file:=my.yaml]

hri_face_detect subscribes to `image` and `camera_info`; they are remapped here to
`rgb_camera_topic` and `rgb_camera_info` (the names of its own launch file), which default to
our camera node's /camera/image_raw: a camera driver that publishes `image_raw` under another
namespace needs `rgb_camera_topic:=/<ns>/image_raw`, or hri_face_detect waits on a topic
nobody publishes. With `face_detect:=false` only our node starts (the robot already runs
hri_face_detect). Both are lifecycle nodes, driven here to active (configure, then activate).
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, SetEnvironmentVariable
from launch.conditions import IfCondition
from launch.substitutions import EnvironmentVariable, LaunchConfiguration
from launch_ros.actions import LifecycleNode

from fer_ros.ros.graph import HRI_EXPRESSION, HRI_PARAMS_FILE, PACKAGE, config_dir, dds_environment
from fer_ros.ros.lifecycle_launch import driven_to_active


def generate_launch_description() -> LaunchDescription:
    arguments = {
        "params_file": (str(config_dir() / HRI_PARAMS_FILE), "hri_expression parameters (YAML)"),
        "rgb_camera_topic": ("/camera/image_raw", "the camera image topic hri_face_detect reads (its 'image')"),
        "rgb_camera_info": ("/camera/camera_info", "the camera info topic hri_face_detect reads (its 'camera_info')"),
        "face_detect": ("true", "also start ROS4HRI's hri_face_detect (false: it runs already)"),
    }
    actions = [DeclareLaunchArgument(name, default_value=default, description=text,
                                     choices=["true", "false"] if name == "face_detect" else None)
               for name, (default, text) in arguments.items()]
    actions += [SetEnvironmentVariable(key, EnvironmentVariable(key, default_value=value))
                for key, value in dds_environment().items()]
    face_detect = LifecycleNode(
        package="hri_face_detect", executable="face_detect", name="hri_face_detect", namespace="",
        remappings=[("image", LaunchConfiguration("rgb_camera_topic")),
                    ("camera_info", LaunchConfiguration("rgb_camera_info"))],
        output="screen", condition=IfCondition(LaunchConfiguration("face_detect")))
    expression = LifecycleNode(
        package=PACKAGE, executable=HRI_EXPRESSION.executable, name=HRI_EXPRESSION.name,
        namespace=HRI_EXPRESSION.namespace, parameters=[LaunchConfiguration("params_file")], output="screen")
    actions += driven_to_active(face_detect)
    actions += driven_to_active(expression)
    return LaunchDescription(actions)
