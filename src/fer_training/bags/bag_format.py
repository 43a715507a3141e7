"""Labelled rosbag2 files: topics, message types, and reading one back whole and checked.

A labelled bag holds an image topic (`sensor_msgs/msg/Image` or `CompressedImage`) and an
answer key on GROUND_TRUTH_TOPIC (`fer_msgs/msg/GroundTruth`, the same stamps). Messages are
serialized by rclpy (the real ROS 2 CDR) and stored with `rosbags`, storage version 8 so
that Humble to Kilted can read the bags.
"""

from dataclasses import dataclass
from pathlib import Path

from fer_msgs.msg import GroundTruth
from rclpy.serialization import deserialize_message
from rosbags.rosbag2 import Reader
from rosbags.typesys import Stores, get_types_from_msg, get_typestore
from rosbags.typesys.store import Typestore
from sensor_msgs.msg import CompressedImage, Image

from fer_ros.ros.graph import EMOTIONS_TOPIC
from fer_ros.ros.resources import source_or_share

IMAGE_TOPIC = "/camera/image_raw"
COMPRESSED_TOPIC = "/camera/image_raw/compressed"
GROUND_TRUTH_TOPIC = "/fer/ground_truth"
RESULT_TOPIC = EMOTIONS_TOPIC
IMAGE_TYPES = {"sensor_msgs/msg/Image": Image, "sensor_msgs/msg/CompressedImage": CompressedImage}
GROUND_TRUTH_TYPE = "fer_msgs/msg/GroundTruth"
BAG_VERSION = 8


class BagError(RuntimeError):
    """A bag that cannot be used: the message says what is wrong with it."""


def typestore() -> Typestore:
    """Humble's types plus fer_msgs', read from the package's .msg files."""
    store = get_typestore(Stores.ROS2_HUMBLE)
    folder = source_or_share("fer_msgs/msg", "fer_msgs", "msg")
    for path in sorted(folder.glob("*.msg")):
        store.register(get_types_from_msg(path.read_text(), f"fer_msgs/msg/{path.stem}"))
    return store


@dataclass
class LabelledFrame:
    """One image of a bag, with its answer key."""

    stamp_ns: int  # header stamp of the image (and of its GroundTruth)
    bag_time_ns: int  # when it was recorded: the replay timing
    raw: bytes  # the image message, serialized
    truth: GroundTruth


@dataclass
class LabelledBag:
    image_topic: str
    image_type: type
    frames: list[LabelledFrame]


def header_ns(msg) -> int:
    return msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec


def read_labelled_bag(path: Path | str, image_topic: str | None = None) -> LabelledBag:
    """Every image and answer key of a bag, all read and checked before anything uses them,
    so a damaged bag fails here with the reason, never half-way through a report."""
    path = Path(path)
    if not path.exists():
        raise BagError(f"bag not found: {path}")
    try:
        with Reader(path) as reader:
            topics = {c.topic: c.msgtype for c in reader.connections}
            if GROUND_TRUTH_TOPIC not in topics:
                raise BagError(f"{path} has no ground truth topic {GROUND_TRUTH_TOPIC} "
                               f"(topics: {_describe(topics)}); make one with fer-make-bag")
            if topics[GROUND_TRUTH_TOPIC] != GROUND_TRUTH_TYPE:
                raise BagError(f"{path}: {GROUND_TRUTH_TOPIC} has type {topics[GROUND_TRUTH_TOPIC]}, "
                               f"expected {GROUND_TRUTH_TYPE}")
            image_topic = _image_topic(path, topics, image_topic)
            wanted = [c for c in reader.connections if c.topic in (image_topic, GROUND_TRUTH_TOPIC)]
            images: dict[int, tuple[int, bytes]] = {}
            truths: dict[int, GroundTruth] = {}
            image_type = IMAGE_TYPES[topics[image_topic]]
            for connection, bag_time, raw in reader.messages(connections=wanted):
                if connection.topic == GROUND_TRUTH_TOPIC:
                    truth = deserialize_message(bytes(raw), GroundTruth)
                    truths[header_ns(truth)] = truth
                else:
                    stamp = header_ns(deserialize_message(bytes(raw), image_type))
                    images[stamp] = (bag_time, bytes(raw))
    except BagError:
        raise
    except Exception as e:  # rosbags and the storage libraries raise many kinds on damage
        raise BagError(f"cannot read bag {path}: {type(e).__name__}: {e}") from e
    missing = sorted(set(truths) - set(images))
    if missing:
        raise BagError(f"{path}: {len(missing)} ground truth stamps have no image on {image_topic}")
    frames = [LabelledFrame(stamp, *images[stamp], truth) for stamp, truth in sorted(truths.items())]
    if not frames:
        raise BagError(f"{path}: no labelled frames")
    return LabelledBag(image_topic, image_type, frames)


def _describe(topics: dict[str, str]) -> str:
    return ", ".join(f"{t} [{m}]" for t, m in sorted(topics.items())) or "none"


def _image_topic(path: Path, topics: dict[str, str], chosen: str | None) -> str:
    if chosen is not None:
        if chosen not in topics:
            raise BagError(f"{path} has no topic {chosen} (topics: {_describe(topics)})")
        if topics[chosen] not in IMAGE_TYPES:
            raise BagError(f"{path}: {chosen} has type {topics[chosen]}, not an image type "
                           f"({', '.join(IMAGE_TYPES)})")
        return chosen
    candidates = [t for t, m in topics.items() if m in IMAGE_TYPES]
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise BagError(f"{path} has no image topic (topics: {_describe(topics)})")
    raise BagError(f"{path} has several image topics ({', '.join(sorted(candidates))}): "
                   f"choose one with --image-topic")
