"""The one description of the node graph, used by launch/webcam.launch.py and by fer-run."""

import os
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path

from fer_ros.ros.resources import source_or_share

PACKAGE = "fer_ros"
PARAMS_FILE = "webcam.yaml"
FASTDDS_PROFILE = "fastdds_shm.xml"


@dataclass(frozen=True)
class NodeSpec:
    """One node: how `ros2 run`/launch finds it and which class the in-process runner builds."""

    executable: str
    name: str
    namespace: str
    node_class: str  # "module:Class"

    def load_class(self) -> type:
        module, cls = self.node_class.split(":")
        return getattr(import_module(module), cls)


CAMERA = NodeSpec("camera_node", "camera", "camera", "fer_ros.nodes.camera_node:CameraNode")
EMOTION = NodeSpec("emotion_node", "emotion", "fer", "fer_ros.nodes.emotion_node:EmotionNode")
REACTIONS = NodeSpec("emotion_reactions", "reactions", "fer", "fer_ros.nodes.emotion_reactions:EmotionReactions")
GRAPH: tuple[NodeSpec, ...] = (CAMERA, EMOTION, REACTIONS)
# The emotion node's outputs (it publishes them relative to its namespace), for every listener.
EMOTIONS_TOPIC = f"/{EMOTION.namespace}/emotions"
CLIP_EMOTIONS_TOPIC = f"/{EMOTION.namespace}/clip_emotions"
ANNOTATED_TOPIC = f"/{EMOTION.namespace}/image_annotated"
OPTIONAL = {REACTIONS: "reactions"}  # nodes started only when this launch argument / fer-run option asks
# The ROS4HRI graph (launch/hri.launch.py): ROS4HRI's hri_face_detect, then our expressions on its faces.
HRI_EXPRESSION = NodeSpec("hri_expression", "hri_expression", "", "fer_ros.nodes.hri_expression_node:HriExpressionNode")
HRI_PARAMS_FILE = "hri.yaml"


def config_dir() -> Path:
    """`config/` of the source checkout, else `share/fer_ros/config` of a ROS install."""
    return source_or_share("config", PACKAGE, "config")


def use_shared_memory_profile() -> None:
    """Set the Fast DDS profile variables (unless the user set them) before rclpy starts."""
    for key, value in dds_environment().items():
        os.environ.setdefault(key, value)


FAST_DDS_2_DISTROS = ("humble", "iron", "jazzy")


def dds_environment() -> dict[str, str]:
    """Environment that loads the shared-memory Fast DDS profile: large frames are lost with
    the default segment. One name, the one this distro's Fast DDS reads: Fast DDS 2 (Humble,
    Jazzy) reads FASTRTPS_DEFAULT_PROFILES_FILE; Fast DDS 3 (Kilted on, and the PyPI wheels)
    FASTDDS_DEFAULT_PROFILES_FILE, and warns that the other one is deprecated when it is set."""
    fast_dds_2 = os.environ.get("ROS_DISTRO", "").lower() in FAST_DDS_2_DISTROS
    return {"FASTRTPS_DEFAULT_PROFILES_FILE" if fast_dds_2 else "FASTDDS_DEFAULT_PROFILES_FILE":
            str(config_dir() / FASTDDS_PROFILE)}
