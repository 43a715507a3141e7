"""Emotion node: camera images in, per-face emotions (FaceEmotionArray) out on /fer/emotions."""

from collections import Counter
from pathlib import Path

import numpy as np
from fer_msgs.msg import FaceEmotion, FaceEmotionArray
from geometry_msgs.msg import Point
from rclpy.node import Node
from rclpy.qos import QoSHistoryPolicy, QoSProfile, QoSReliabilityPolicy
from sensor_msgs.msg import CompressedImage, Image, RegionOfInterest

from fer_ros.align import FaceAligner
from fer_ros.annotate import draw_results
from fer_ros.classify import EmotionClassifier
from fer_ros.detect import DETECTORS, FaceDetector
from fer_ros.image_conversion import (
    ImageConversionError,
    array_to_image,
    compressed_to_array,
    image_to_array,
    to_vision_order,
)
from fer_ros.image_ops import to_bgr8
from fer_ros.model_files import SHIPPED_IMAGE_MODEL
from fer_ros.node_main import run_node
from fer_ros.params import declare
from fer_ros.pipeline import EmotionPipeline, FaceResult
from fer_ros.track import IouTracker

# Best effort, depth 1: a frame that arrives while one is processed replaces the waiting one,
# so the node always works on the newest frame instead of a growing queue.
LATEST_FRAME_QOS = QoSProfile(depth=1, reliability=QoSReliabilityPolicy.BEST_EFFORT,
                              history=QoSHistoryPolicy.KEEP_LAST)


class EmotionNode(Node):
    def __init__(self, **kwargs):
        super().__init__("emotion", **kwargs)
        self.image_topic = declare(
            self, "image_topic", "/camera/image_raw",
            "sensor_msgs/Image topic, or CompressedImage if it ends in /compressed")
        detector = declare(self, "detector", "dlib", "face detector", choices=DETECTORS)
        upsample = declare(self, "upsample", 0, "dlib: image doublings before detection", low=0, high=2)
        threshold = declare(self, "detection_threshold", 0.35, "dlib: minimum detection score",
                            low=-1.0, high=3.0)
        min_face = declare(self, "min_face_size", 40, "smallest face box in pixels", low=8)
        max_faces = declare(self, "max_faces", 8, "faces classified per frame", low=1, high=64)
        x_factor = declare(self, "x_factor", 2.1, "crop width in eye distances", low=0.5, high=6.0)
        y_factor = declare(self, "y_factor", 3.2, "crop height in eye distances", low=0.5, high=6.0)
        model_dir = declare(self, "model_dir", "", "model folder; empty = the shipped model")
        self.max_pixels = declare(self, "max_image_pixels", 4096 * 4096,
                                  "larger images are refused", low=1)
        min_iou = declare(self, "track_min_iou", 0.3, "overlap that continues a track", low=0.0, high=1.0)
        max_missed = declare(self, "track_max_missed", 5, "frames a track survives unseen", low=0)

        classifier = EmotionClassifier(Path(model_dir) if model_dir else SHIPPED_IMAGE_MODEL)
        face_detector = FaceDetector(detector, upsample, min_face, threshold)
        aligner = FaceAligner(face_detector, x_factor, y_factor, max_faces)
        self.pipeline = EmotionPipeline(aligner, classifier, IouTracker(min_iou, max_missed))
        self.errors: Counter[str] = Counter()
        self.processed = 0

        self.publisher = self.create_publisher(FaceEmotionArray, "emotions", 10)
        self.annotated = self.create_publisher(Image, "image_annotated", 1)
        compressed = self.image_topic.rstrip("/").endswith("/compressed")
        self.create_subscription(CompressedImage if compressed else Image, self.image_topic,
                                 self.on_image, LATEST_FRAME_QOS)
        self.get_logger().info(f"model {classifier.name} ({len(classifier.labels)} labels); "
                               f"listening on {self.image_topic} ({'compressed' if compressed else 'raw'})")

    def on_image(self, msg: Image | CompressedImage) -> None:
        # One bad frame is logged and counted, never allowed to stop the node.
        try:
            pixels = self._pixels(msg)
            results = self.pipeline.process(pixels)
        except Exception as e:
            self.errors[type(e).__name__] += 1
            self.get_logger().warning(f"frame skipped: {type(e).__name__}: {e}",
                                      throttle_duration_sec=1.0)
            return
        self.publisher.publish(self._to_message(msg, results))
        self.processed += 1
        if self.annotated.get_subscription_count() > 0:
            drawn = draw_results(to_bgr8(pixels), results)
            self.annotated.publish(array_to_image(drawn, "bgr8", msg.header))

    def _pixels(self, msg: Image | CompressedImage) -> np.ndarray:
        if isinstance(msg, CompressedImage):
            return compressed_to_array(msg)
        if msg.height * msg.width > self.max_pixels:
            raise ImageConversionError(f"{msg.width}x{msg.height} image exceeds max_image_pixels "
                                       f"({self.max_pixels})")
        return to_vision_order(image_to_array(msg), msg.encoding)

    def _to_message(self, source: Image | CompressedImage, results: list[FaceResult]) -> FaceEmotionArray:
        out = FaceEmotionArray(header=source.header, labels=list(self.pipeline.labels))
        for r in results:
            b = r.face.box
            out.faces.append(FaceEmotion(
                track_id=r.track_id,
                box=RegionOfInterest(x_offset=b.x, y_offset=b.y, width=b.w, height=b.h),
                left_eye=Point(x=r.face.left_eye[0], y=r.face.left_eye[1]),
                right_eye=Point(x=r.face.right_eye[0], y=r.face.right_eye[1]),
                label=r.label, confidence=r.confidence, scores=r.scores.astype(float).tolist()))
        return out


def main(args: list[str] | None = None) -> int:
    return run_node(EmotionNode, args)
