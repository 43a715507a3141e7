"""Webcam graph: camera -> emotion node -> /fer/emotions (and /fer/clip_emotions).

    ros2 launch fer_ros webcam.launch.py [video:=/path/to/clip.mp4] [lockstep:=true|false]
        [rate:=source|max|HZ] [transport:=raw|compressed] [nodes:=all|camera|emotion]
        [hri:=true] [reactions:=true] [managed:=true] [params_file:=my.yaml]

The nodes come from fer_ros.ros.graph.GRAPH, the same description fer-run uses. A video file is
played in lockstep by default: its first frame goes out once the emotion node is ready and each
next one once the last one's result arrived, so every frame is answered however slow the start
(`lockstep:=false` plays it at its own rate once anyone reads it, dropping frames like a camera). `hri:=true` also
publishes ROS4HRI (REP-155) faces under /humans/faces/; `reactions:=true` adds the example
behaviour node (`emotion_reactions`, /fer/reactions); `managed:=true` starts the emotion node
as a lifecycle node and drives it to active (configure loads the models, activate subscribes).
Two computers: `nodes:=camera` on the
robot and `nodes:=emotion` on the other (same ROS_DOMAIN_ID), `transport:=compressed` on both
for a link slower than raw frames need (README, "Running on two computers").
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, SetEnvironmentVariable
from launch.conditions import IfCondition
from launch.substitutions import EnvironmentVariable, LaunchConfiguration, PythonExpression
from launch_ros.actions import LifecycleNode, Node
from launch_ros.parameter_descriptions import ParameterValue

from fer_ros.ros.graph import (
    CAMERA,
    EMOTION,
    GRAPH,
    OPTIONAL,
    PACKAGE,
    PARAMS_FILE,
    REACTIONS,
    config_dir,
    dds_environment,
)
from fer_ros.ros.lifecycle_launch import driven_to_active


def generate_launch_description() -> LaunchDescription:
    params = LaunchConfiguration("params_file")
    arguments = {
        "params_file": (str(config_dir() / PARAMS_FILE), "node parameters (YAML)"),
        "video": ("", "video file to play instead of the camera"),
        "lockstep": ("true", "video file: wait for the emotion node and answer every frame (false: play at its "
                             "rate, dropping frames like a camera)"),
        "rate": ("source", "frames per second: source (the file's or camera's own), a number, or max (lockstep: "
                           "each frame as soon as the last one was answered)"),
        "transport": ("raw", "how images reach the emotion node: raw, or compressed (JPEG on "
                             "/camera/image_raw/compressed, for a network link)"),
        "nodes": ("all", "which nodes this launch starts: all, camera (the robot's side of a split graph), or "
                         "emotion (the emotion node, with hri and reactions, on another computer)"),
        "hri": ("false", "also publish ROS4HRI faces (/humans/faces/...); needs hri_msgs"),
        "reactions": ("false", "also run the example behaviour node emotion_reactions (/fer/reactions)"),
        "managed": ("false", "start the emotion node as a lifecycle node, driven here to active (configure, then "
                             "activate); ros2 lifecycle get/set work on it either way"),
    }
    choices = {"transport": ["raw", "compressed"], "nodes": ["all", "camera", "emotion"],
               "managed": ["true", "false"]}
    actions = [DeclareLaunchArgument(name, default_value=default, description=text, choices=choices.get(name))
               for name, (default, text) in arguments.items()]
    nodes = LaunchConfiguration("nodes")
    side = {CAMERA: "camera", EMOTION: "emotion", REACTIONS: "emotion"}  # which side of a split graph runs it
    # The shipped Fast DDS profile, unless the user's environment names one of its own.
    actions += [SetEnvironmentVariable(key, EnvironmentVariable(key, default_value=value))
                for key, value in dds_environment().items()]
    overrides = {
        CAMERA: [{"video": LaunchConfiguration("video"),
                  "lockstep": ParameterValue(LaunchConfiguration("lockstep"), value_type=bool),
                  "rate": ParameterValue(LaunchConfiguration("rate"), value_type=str)}],
        EMOTION: [{"hri": ParameterValue(LaunchConfiguration("hri"), value_type=bool),
                   "managed": ParameterValue(LaunchConfiguration("managed"), value_type=bool),
                   "image_topic": ["/camera/image_raw", PythonExpression(
                       ["'/compressed' if '", LaunchConfiguration("transport"), "' == 'compressed' else ''"])]}],
    }
    for spec in GRAPH:
        wanted = ["'", nodes, f"' in ('all', '{side[spec]}')"]
        if spec in OPTIONAL:
            wanted += [" and '", LaunchConfiguration(OPTIONAL[spec]), "'.lower() == 'true'"]
        condition = IfCondition(PythonExpression(wanted))
        settings = {"package": PACKAGE, "executable": spec.executable, "name": spec.name, "namespace": spec.namespace,
                    "parameters": [params, *overrides.get(spec, [])], "output": "screen"}
        if spec is EMOTION:
            actions += managed_emotion_node(settings, wanted)
            condition = IfCondition(PythonExpression([*wanted, " and '", LaunchConfiguration("managed"),
                                                      "'.lower() != 'true'"]))
        actions.append(Node(**settings, condition=condition))
    return LaunchDescription(actions)


def managed_emotion_node(settings: dict, wanted: list) -> list:
    """With managed:=true, the emotion node as launch_ros's LifecycleNode, driven to active; the
    plain node's condition excludes it then."""
    managed = LaunchConfiguration("managed")
    node = LifecycleNode(**settings, condition=IfCondition(PythonExpression([*wanted, " and '", managed,
                                                                             "'.lower() == 'true'"])))
    return driven_to_active(node)
