"""Emotion node: camera images in, per-face emotions (FaceEmotionArray) on /fer/emotions and
per-face clip emotions (ClipEmotion, see `fer_ros.clip_stage`) on /fer/clip_emotions out.

Latest frame only: the image callback keeps the newest frame and a worker thread processes
it, so a slow frame never builds a queue; frames replaced before processing are counted as
dropped. Every frame that fails (undecodable, wrong encoding, too large, out of order...) is
logged, counted by kind in /diagnostics, and skipped; the next frame is processed as usual.
"""

import threading
import time
from pathlib import Path

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from fer_msgs.msg import ClipEmotion, FaceEmotion, FaceEmotionArray
from geometry_msgs.msg import Point
from rclpy.node import Node
from rclpy.qos import QoSHistoryPolicy, QoSProfile, QoSReliabilityPolicy
from sensor_msgs.msg import CompressedImage, Image, RegionOfInterest
from std_msgs.msg import Header

from fer_ros.align import FaceAligner
from fer_ros.annotate import draw_results
from fer_ros.classify import EmotionClassifier
from fer_ros.clip_stage import ClipResult, ClipStage
from fer_ros.detect import DETECTORS, FaceDetector
from fer_ros.frame_stats import FrameStats
from fer_ros.hri_faces import HriFaces
from fer_ros.image_conversion import (
    ImageConversionError,
    array_to_image,
    compressed_to_array,
    image_to_array,
    to_vision_order,
)
from fer_ros.image_ops import to_bgr8
from fer_ros.model_files import PRECISIONS, SHIPPED_CLIP_MODELS, SHIPPED_IMAGE_MODEL
from fer_ros.node_main import run_node
from fer_ros.params import ParameterError, Spec, declare_all, refuse_invalid
from fer_ros.pipeline import EmotionPipeline, FaceResult
from fer_ros.track import IouTracker

# Best effort, depth 1: with a camera publishing best effort, only the newest frame matters.
LATEST_FRAME_QOS = QoSProfile(depth=1, reliability=QoSReliabilityPolicy.BEST_EFFORT,
                              history=QoSHistoryPolicy.KEEP_LAST)
UNKNOWN = "unknown"

PARAMETERS = {
    "image_topic": Spec("/camera/image_raw",
                        "sensor_msgs/Image topic, or CompressedImage if it ends in /compressed"),
    "detector": Spec("dlib", "face detector", choices=DETECTORS),
    "upsample": Spec(0, "dlib: image doublings before detection", low=0, high=2),
    "detect_scale": Spec(1.0, "detect on the frame shrunk by this factor (0.5: 4x faster, faces > ~130 px)",
                         low=0.1, high=1.0, dynamic=True),
    "detect_every": Spec(3, "run the detector every N frames; in between, look only around the last boxes",
                         low=1, high=30, dynamic=True),
    "detection_threshold": Spec(0.35, "dlib: minimum detection score", low=-1.0, high=3.0, dynamic=True),
    "min_face_size": Spec(40, "smallest face box in pixels", low=8, dynamic=True),
    "max_faces": Spec(8, "faces classified per frame, largest first", low=1, high=64, dynamic=True),
    "x_factor": Spec(2.1, "crop width in eye distances", low=0.5, high=6.0, dynamic=True),
    "y_factor": Spec(3.2, "crop height in eye distances", low=0.5, high=6.0, dynamic=True),
    "model_dir": Spec("", "model folder (model.tflite + model.json); empty = the shipped model"),
    "model_precision": Spec("auto", "image model file: float, int8, or auto (int8 where the folder has it)",
                            choices=PRECISIONS),
    "flip_tta": Spec(True, "also classify each face's mirror image and average (+0.6 points on FER2013 "
                           "PublicTest for the shipped model, twice the classification time)"),
    "max_image_pixels": Spec(4096 * 4096, "larger images are refused unprocessed", low=1, dynamic=True),
    "track_min_iou": Spec(0.3, "box overlap that continues a track", low=0.0, high=1.0, dynamic=True),
    "track_max_missed": Spec(5, "frames a track survives without a detection", low=0, dynamic=True),
    "confidence_threshold": Spec(0.0, f"below it the label is '{UNKNOWN}' (scores still published)",
                                 low=0.0, high=1.0, dynamic=True),
    "diagnostics_period": Spec(1.0, "seconds between /diagnostics messages", low=0.1, high=60.0),
    "clip_model": Spec("lstm", "clip emotions on /fer/clip_emotions by lstm, c3d, both, or none (off)",
                       choices=("lstm", "c3d", "both", "none")),
    "clip_model_dir": Spec("", "your own clip model folder (clip_model lstm or c3d); empty = the shipped one"),
    "clip_length": Spec(12, "frames buffered per tracked face; the clip models see 12 evenly spaced of them",
                        low=1, high=300),
    "hri": Spec(False, "also publish ROS4HRI (REP-155) faces: /humans/faces/tracked and per face roi, cropped, "
                       "aligned, landmarks, expression (needs hri_msgs)"),
    "clip_stride": Spec(6, "frames between two clip classifications of the same face", low=1, high=300,
                        dynamic=True),
}


class EmotionNode(Node):
    def __init__(self, **kwargs):
        super().__init__("emotion", **kwargs)
        self.params = declare_all(self, PARAMETERS)
        p = self.params
        model_dir = Path(p["model_dir"]) if p["model_dir"] else SHIPPED_IMAGE_MODEL
        self.classifier = EmotionClassifier(model_dir, p["flip_tta"], p["model_precision"])
        detector = FaceDetector(p["detector"], p["upsample"], p["min_face_size"], p["detection_threshold"],
                                p["detect_scale"])
        self.pipeline = EmotionPipeline(
            FaceAligner(detector, p["x_factor"], p["y_factor"], p["max_faces"]), self.classifier,
            IouTracker(p["track_min_iou"], p["track_max_missed"]), p["detect_every"])
        self.clip_stage = self._clip_stage(p, self.classifier)
        self.hri = HriFaces(self, self.pipeline.aligner) if p["hri"] else None
        self.add_on_set_parameters_callback(refuse_invalid(PARAMETERS, self._apply))
        self.stats = FrameStats()
        self.clips_published = 0
        self._clip_text: dict[int, str] = {}  # last clip result per track, for the annotated image

        self.publisher = self.create_publisher(FaceEmotionArray, "emotions", 10)
        self.clip_publisher = self.create_publisher(ClipEmotion, "clip_emotions", 10)
        self.annotated = self.create_publisher(Image, "image_annotated", 1)
        self.diagnostics = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        topic = p["image_topic"]
        compressed = topic.rstrip("/").endswith("/compressed")
        self.create_subscription(CompressedImage if compressed else Image, topic, self.on_image,
                                 LATEST_FRAME_QOS)
        self.create_timer(p["diagnostics_period"], self.publish_diagnostics)

        self._frame_ready = threading.Condition()
        self._pending: Image | CompressedImage | None = None
        self._stopping = False
        self._last_stamp = (-1, -1)
        self._worker = threading.Thread(target=self._work, name="fer_emotion_worker", daemon=True)
        self._worker.start()
        clip_models = ", ".join(m.name for m in self.clip_stage.models.values()) if self.clip_stage else ""
        outputs = [self.publisher.topic_name]
        outputs += [f"{self.clip_publisher.topic_name} ({clip_models})"] if clip_models else []
        outputs += ["/humans/faces/ (ROS4HRI)"] if self.hri else []
        self.get_logger().info(f"listening on {topic} ({'compressed' if compressed else 'raw'}); model "
                               f"{self.classifier.name}; publishing {', '.join(outputs)}")

    @staticmethod
    def _clip_stage(p: dict, image_model: EmotionClassifier) -> ClipStage | None:
        if p["clip_model"] == "none":
            return None
        names = ("lstm", "c3d") if p["clip_model"] == "both" else (p["clip_model"],)
        if p["clip_model_dir"] and len(names) > 1:
            raise ParameterError("parameter 'clip_model_dir' needs clip_model lstm or c3d, not both")
        models = {n: EmotionClassifier(p["clip_model_dir"] or SHIPPED_CLIP_MODELS[n]) for n in names}
        try:
            return ClipStage(models, p["clip_length"], p["clip_stride"], image_model)
        except ValueError as e:
            raise ParameterError(f"parameter 'clip_length': {e}") from e

    def _apply(self, name: str, value) -> None:
        """A validated run-time change, applied to the part of the pipeline that uses it."""
        self.params[name] = value
        aligner, tracker = self.pipeline.aligner, self.pipeline.tracker
        targets = {"detection_threshold": (aligner.detector, "min_score"),
                   "min_face_size": (aligner.detector, "min_size"), "max_faces": (aligner, "max_faces"),
                   "detect_scale": (aligner.detector, "scale"),
                   "x_factor": (aligner, "x_factor"), "y_factor": (aligner, "y_factor"),
                   "track_min_iou": (tracker, "min_iou"), "track_max_missed": (tracker, "max_missed"),
                   "detect_every": (self.pipeline, "detect_every"), "clip_stride": (self.clip_stage, "stride")}
        if name in targets and targets[name][0] is not None:
            setattr(*targets[name], value)
        self.get_logger().info(f"parameter {name} set to {value!r}")

    def on_image(self, msg: Image | CompressedImage) -> None:
        with self._frame_ready:
            if self._pending is not None:
                self.stats.frame_dropped()
            self._pending = msg
            self._frame_ready.notify()

    def _work(self) -> None:
        while True:
            with self._frame_ready:
                self._frame_ready.wait_for(lambda: self._pending is not None or self._stopping)
                if self._stopping:
                    return
                msg, self._pending = self._pending, None
            try:
                self.process(msg)
            except Exception:
                if self.context.ok():
                    raise
                return  # Ctrl-C shut the context down while this frame was processed: stop quietly

    def process(self, msg: Image | CompressedImage) -> None:
        """One frame: a result on /fer/emotions, or a counted, logged refusal."""
        start = time.monotonic()
        stamp = (msg.header.stamp.sec, msg.header.stamp.nanosec)
        try:
            if stamp <= self._last_stamp:
                raise OutOfOrderFrame(f"stamp {stamp[0]}.{stamp[1]:09d} is not newer than the last "
                                      f"frame's {self._last_stamp[0]}.{self._last_stamp[1]:09d}")
            pixels = self._pixels(msg)
            results = self.pipeline.process(pixels)
            clips = self.clip_stage.process(results, msg.header.stamp) if self.clip_stage else []
        except Exception as e:  # one bad frame must never stop the node
            self.stats.error(type(e).__name__)
            self.get_logger().warning(f"frame skipped: {type(e).__name__}: {e}", throttle_duration_sec=1.0)
            return
        self._last_stamp = stamp
        self.publisher.publish(self._to_message(msg, results))
        if self.hri:
            self.hri.publish(msg.header, pixels, results, self.params["confidence_threshold"])
        for clip in clips:
            self.clip_publisher.publish(self._clip_message(msg, clip))
        self.clips_published += len(clips)
        present = {r.track_id for r in results}
        self._clip_text = {t: text for t, text in self._clip_text.items() if t in present} | {
            c.track_id: f"clip {c.model}: {c.label} {c.confidence:.2f}" for c in clips}
        now_ns = self.get_clock().now().nanoseconds
        self.stats.frame_done((time.monotonic() - start) * 1000.0,
                              (now_ns - (stamp[0] * 1_000_000_000 + stamp[1])) / 1e6, len(results))
        if self.annotated.get_subscription_count() > 0:
            drawn = draw_results(to_bgr8(pixels), results, self._clip_text)
            self.annotated.publish(array_to_image(drawn, "bgr8", msg.header))

    def _pixels(self, msg: Image | CompressedImage) -> np.ndarray:
        if isinstance(msg, CompressedImage):
            if len(msg.data) > self.params["max_image_pixels"] * 4:
                raise ImageConversionError(f"{len(msg.data)}-byte compressed image exceeds max_image_pixels")
            pixels = compressed_to_array(msg)
        else:
            if msg.height * msg.width > self.params["max_image_pixels"]:
                raise ImageConversionError(f"{msg.width}x{msg.height} image exceeds max_image_pixels "
                                           f"({self.params['max_image_pixels']})")
            pixels = to_vision_order(image_to_array(msg), msg.encoding)
        height, width = pixels.shape[:2]
        if height * width > self.params["max_image_pixels"]:
            raise ImageConversionError(f"decoded {width}x{height} image exceeds max_image_pixels")
        if min(height, width) < self.params["min_face_size"]:
            raise ImageConversionError(f"{width}x{height} image is smaller than min_face_size "
                                       f"({self.params['min_face_size']} px): it cannot show a face")
        return pixels

    def _to_message(self, source: Image | CompressedImage, results: list[FaceResult]) -> FaceEmotionArray:
        out = FaceEmotionArray(header=source.header, labels=list(self.pipeline.labels))
        threshold = self.params["confidence_threshold"]
        for r in results:
            b = r.face.box
            out.faces.append(FaceEmotion(
                track_id=r.track_id,
                box=RegionOfInterest(x_offset=b.x, y_offset=b.y, width=b.w, height=b.h),
                left_eye=Point(x=r.face.left_eye[0], y=r.face.left_eye[1]),
                right_eye=Point(x=r.face.right_eye[0], y=r.face.right_eye[1]),
                label=r.label if r.confidence >= threshold else UNKNOWN,
                confidence=r.confidence, scores=r.scores.astype(float).tolist()))
        return out

    def _clip_message(self, source: Image | CompressedImage, clip: ClipResult) -> ClipEmotion:
        return ClipEmotion(
            header=source.header, track_id=clip.track_id, start_stamp=clip.start_stamp, end_stamp=clip.end_stamp,
            frame_count=clip.frame_count, model=clip.model,
            label=clip.label if clip.confidence >= self.params["confidence_threshold"] else UNKNOWN,
            confidence=clip.confidence, scores=clip.scores.astype(float).tolist(),
            labels=list(self.clip_stage.models[clip.model].labels))

    def publish_diagnostics(self) -> None:
        s = self.stats.snapshot()
        status = DiagnosticStatus(name="fer_ros: emotion", hardware_id=self.get_fully_qualified_name())
        errors = sum(s["errors"].values())
        status.level = DiagnosticStatus.WARN if errors else DiagnosticStatus.OK
        status.message = f"{s['fps']:.1f} fps, {s['faces']} face(s), {errors} bad frames"
        values = {"fps": f"{s['fps']:.2f}", "processing_time_ms": f"{s['processing_time_ms']:.2f}",
                  "latency_ms": f"{s['latency_ms']:.2f}", "frames_processed": s["frames_processed"],
                  "frames_dropped": s["frames_dropped"], "faces_tracked": s["faces"],
                  "errors_total": errors, "model": self.classifier.name, "clips_published": self.clips_published,
                  **{f"errors.{kind}": count for kind, count in sorted(s["errors"].items())}}
        status.values = [KeyValue(key=k, value=str(v)) for k, v in values.items()]
        header = Header(stamp=self.get_clock().now().to_msg())
        self.diagnostics.publish(DiagnosticArray(header=header, status=[status]))

    def destroy_node(self) -> None:
        with self._frame_ready:
            self._stopping = True
            self._frame_ready.notify()
        self._worker.join(timeout=5.0)
        super().destroy_node()


class OutOfOrderFrame(ValueError):
    """A frame stamped no later than one already processed (replayed, or from a reset clock)."""


def main(args: list[str] | None = None) -> int:
    return run_node(EmotionNode, args)
