"""fer-make-bag: a labelled rosbag2 (images + answer key) from a labelled image source.

Sources: `jaffe`, `ckplus`, `folder:PATH` (as fer-evaluate: class subfolders, or any image
folder with `--labels CSV` of `file,label` rows), or `video:PATH` with `--labels CSV` holding
either `frame,label` rows (per frame) or `start,end,label` rows (inclusive frame
ranges); labels are class names or FER2013 indices; frames without a label get an empty answer
key. With `--canvas WxH` each image is scaled to `--face-scale` of the canvas height and placed
at a random (seeded) position on a grey canvas; its region is the ground-truth box.
"""

import argparse
import csv
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
from fer_msgs.msg import GroundTruth
from rclpy.serialization import serialize_message
from rosbags.rosbag2 import StoragePlugin, Writer
from sensor_msgs.msg import RegionOfInterest
from std_msgs.msg import Header

from fer_ros.ros.image_conversion import array_to_compressed, array_to_image
from fer_ros.vision.image_ops import to_bgr8
from fer_ros.vision.labels import LABELS
from fer_training.bags.bag_format import (
    BAG_VERSION,
    COMPRESSED_TOPIC,
    GROUND_TRUTH_TOPIC,
    GROUND_TRUTH_TYPE,
    IMAGE_TOPIC,
    typestore,
)
from fer_training.data.fer2013 import default_data_dir
from fer_training.data.labelled_images import labelled_images, parse_label

STORAGES = {"mcap": StoragePlugin.MCAP, "sqlite3": StoragePlugin.SQLITE3}
CANVAS_GREY = 90


def parse_size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT, got {text!r}") from None
    if width <= 0 or height <= 0:
        raise argparse.ArgumentTypeError(f"canvas must be positive, got {text!r}")
    return width, height


def video_labels(path: Path) -> dict[int, int]:
    """frame index -> label, from `frame,label` or `start,end,label` rows (-1: no FER2013
    class, treated as unlabelled)."""
    labels: dict[int, int] = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            if "frame" in row:
                labels[int(row["frame"])] = parse_label(row["label"])
            elif "start" in row and "end" in row:
                for i in range(int(row["start"]), int(row["end"]) + 1):
                    labels[i] = parse_label(row["label"])
            else:
                raise ValueError(f"{path}: expected columns frame,label or start,end,label")
    return {frame: label for frame, label in labels.items() if label >= 0}


def video_frames(video: Path, labels_csv: Path) -> Iterator[tuple[np.ndarray, int | None]]:
    labels = video_labels(labels_csv)
    capture = cv2.VideoCapture(str(video))
    if not capture.isOpened():
        raise ValueError(f"cannot open video {video}")
    index = 0
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        yield frame, labels.get(index)
        index += 1
    capture.release()


def source_frames(dataset: str, data_dir: Path, labels_csv: Path | None
                  ) -> Iterator[tuple[np.ndarray, int | None]]:
    """(image, label or None) pairs of the source, in a fixed order."""
    if dataset.startswith("video:"):
        yield from video_frames(Path(dataset.split(":", 1)[1]), labels_csv)
        return
    for item in labelled_images(dataset, data_dir, labels_csv):
        yield item.image, item.label


def place(image: np.ndarray, canvas: tuple[int, int] | None, face_scale: float,
          rng: np.random.Generator) -> tuple[np.ndarray, RegionOfInterest]:
    """The BGR frame to publish and the region holding the labelled image."""
    bgr = to_bgr8(image)
    if canvas is None:
        return bgr, RegionOfInterest(x_offset=0, y_offset=0, width=bgr.shape[1], height=bgr.shape[0])
    width, height = canvas
    scale = min(face_scale * height / bgr.shape[0], width / bgr.shape[1])
    w, h = max(1, round(bgr.shape[1] * scale)), max(1, round(bgr.shape[0] * scale))
    resized = cv2.resize(bgr, (w, h), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
    x, y = int(rng.integers(0, width - w + 1)), int(rng.integers(0, height - h + 1))
    frame = np.full((height, width, 3), CANVAS_GREY, np.uint8)
    frame[y:y + h, x:x + w] = resized
    return frame, RegionOfInterest(x_offset=x, y_offset=y, width=w, height=h)


def write_bag(args: argparse.Namespace) -> int:
    store = typestore()
    image_topic = COMPRESSED_TOPIC if args.compressed else IMAGE_TOPIC
    image_type = "sensor_msgs/msg/CompressedImage" if args.compressed else "sensor_msgs/msg/Image"
    rng = np.random.default_rng(args.seed)
    start_ns = time.time_ns()
    period_ns = int(1e9 / args.rate)
    count = 0
    with Writer(args.out, version=BAG_VERSION, storage_plugin=STORAGES[args.storage]) as writer:
        images = writer.add_connection(image_topic, image_type, typestore=store)
        truths = writer.add_connection(GROUND_TRUTH_TOPIC, GROUND_TRUTH_TYPE, typestore=store)
        for image, label in source_frames(args.dataset, args.data_dir, args.labels):
            frame, region = place(image, args.canvas, args.face_scale, rng)
            stamp_ns = start_ns + count * period_ns
            header = Header(frame_id=args.frame_id)
            header.stamp.sec, header.stamp.nanosec = divmod(stamp_ns, 1_000_000_000)
            msg = array_to_compressed(frame, "jpeg", header) if args.compressed \
                else array_to_image(frame, "bgr8", header)
            truth = GroundTruth(header=header)
            if label is not None:
                truth.labels, truth.boxes = [LABELS[label]], [region]
            writer.write(images, stamp_ns, serialize_message(msg))
            writer.write(truths, stamp_ns, serialize_message(truth))
            count += 1
    return count


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", required=True, help="jaffe, ckplus, folder:PATH or video:PATH")
    p.add_argument("--data-dir", type=Path, default=default_data_dir())
    p.add_argument("--labels", type=Path, help="label CSV for video:PATH (or for folder:PATH)")
    p.add_argument("--out", type=Path, required=True, help="bag folder to create (must not exist)")
    p.add_argument("--rate", type=float, default=15.0, help="frames per second of the stamps")
    p.add_argument("--canvas", type=parse_size, help="WxH canvas to place each image on")
    p.add_argument("--face-scale", type=float, default=0.6, help="placed image height / canvas height")
    p.add_argument("--compressed", action="store_true", help="CompressedImage (JPEG) instead of Image")
    p.add_argument("--storage", choices=sorted(STORAGES), default="mcap")
    p.add_argument("--frame-id", default="camera")
    p.add_argument("--seed", type=int, default=0, help="seed of the placements")
    args = p.parse_args(argv)
    if args.rate <= 0 or not 0 < args.face_scale <= 1:
        p.error("--rate must be > 0 and --face-scale in (0, 1]")
    if args.dataset.startswith("video:") and args.labels is None:
        p.error("video:PATH needs --labels CSV")
    if args.out.exists():
        p.error(f"{args.out} exists already; choose a new folder")
    try:
        count = write_bag(args)
    except (ValueError, FileNotFoundError) as e:
        shutil.rmtree(args.out, ignore_errors=True)  # no half-written bag left behind
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"wrote {count} labelled frames to {args.out} ({args.storage})")
    return 0
