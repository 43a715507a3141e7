"""Emotion node: camera images in, per-face emotions (FaceEmotionArray) on /fer/emotions and
per-face clip emotions (ClipEmotion, see `fer_ros.vision.clip_stage`) on /fer/clip_emotions out.

Latest frame only: the image callback keeps the newest frame and a worker thread processes
it, so a slow frame never builds a queue; frames replaced before processing are counted as
dropped. Every frame that fails (undecodable, wrong encoding, too large, out of order...) is
logged, counted by kind in /diagnostics, and skipped; the next frame is processed as usual. A
stream that jumps back in time by more than a second (a bag played again, `use_sim_time` reset)
restarts that camera's tracks and clip buffers.
"""

import itertools
import threading
import time
from pathlib import Path

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from fer_msgs.msg import ClipEmotion, FaceEmotion, FaceEmotionArray
from geometry_msgs.msg import Point
from rclpy.qos import QoSHistoryPolicy, QoSProfile, QoSReliabilityPolicy
from sensor_msgs.msg import CompressedImage, Image, RegionOfInterest
from std_msgs.msg import Header

from fer_ros.ros.diagnostics import count_failure, diagnostic_array
from fer_ros.ros.frame_stats import FrameStats
from fer_ros.ros.hri_faces import HriFaces
from fer_ros.ros.image_conversion import (
    ImageConversionError,
    array_to_image,
    compressed_to_array,
    image_to_array,
    to_vision_order,
)
from fer_ros.ros.managed_node import ManagedNode
from fer_ros.ros.node_main import run_node
from fer_ros.ros.params import ParameterError, Spec, declare_all, refuse_invalid
from fer_ros.vision.align import EYE_SOURCES, X_FACTOR, Y_FACTOR, FaceAligner
from fer_ros.vision.annotate import draw_results
from fer_ros.vision.classify import MAX_CLASS_BALANCE, EmotionClassifier
from fer_ros.vision.clip_stage import ClipResult, ClipStage
from fer_ros.vision.detect import DETECTORS, FaceDetector
from fer_ros.vision.image_ops import to_bgr8
from fer_ros.vision.model_files import PRECISIONS, SHIPPED_CLIP_MODELS, SHIPPED_IMAGE_MODEL, ModelFileError
from fer_ros.vision.pipeline import EmotionPipeline, FaceResult
from fer_ros.vision.track import IouTracker

# Best effort, depth 1: with a camera publishing best effort, only the newest frame matters.
LATEST_FRAME_QOS = QoSProfile(depth=1, reliability=QoSReliabilityPolicy.BEST_EFFORT,
                              history=QoSHistoryPolicy.KEEP_LAST)
UNKNOWN = "unknown"
# A frame stamped further back than this is a stream started again (bag loop, sim time reset);
# less is a late or repeated frame, refused.
RESTART_AFTER_JUMP_S = 1.0

PARAMETERS = {
    "image_topic": Spec("/camera/image_raw",
                        "sensor_msgs/Image topic, or CompressedImage if it ends in /compressed; several cameras: "
                        "topics separated by commas (track ids unique across them)"),
    "detector": Spec("yunet", "face detector: yunet (CNN, faces from ~24 px, eye landmarks), hog (dlib, "
                              "faces from ~60 px) or haar", choices=DETECTORS),
    "eyes": Spec("dlib5", "eye centres from dlib's 5-point model (dlib5, steady on a rolled head) or the "
                          "detector's own landmarks (detector: yunet's, no second model)", choices=EYE_SOURCES),
    "upsample": Spec(0, "hog: image doublings before detection", low=0, high=2),
    "detect_max_side": Spec(640, "frames with a longer side are shrunk to it before detection (cost grows "
                                 "with its square)", low=64, high=4096, dynamic=True),
    "detect_scale": Spec(1.0, "detect on the frame shrunk by this factor more (0.5: 4x faster, larger faces only)",
                         low=0.1, high=1.0, dynamic=True),
    "detect_every": Spec(3, "run the detector every N frames; in between, look only around the last boxes",
                         low=1, high=30, dynamic=True),
    "detection_threshold": Spec(0.75, "yunet: minimum face score (0-1)", low=0.0, high=1.0, dynamic=True),
    "hog_threshold": Spec(0.35, "hog: minimum detection margin", low=-1.0, high=3.0, dynamic=True),
    "min_face_size": Spec(20, "smallest face box in pixels", low=8, dynamic=True),
    "max_faces": Spec(8, "faces classified per frame, largest first", low=1, high=64, dynamic=True),
    "x_factor": Spec(X_FACTOR, "crop width in eye distances", low=0.5, high=6.0, dynamic=True),
    "y_factor": Spec(Y_FACTOR, "crop height in eye distances", low=0.5, high=6.0, dynamic=True),
    "model_dir": Spec("", "model folder (model.tflite + model.json); empty = the shipped model"),
    "model_precision": Spec("auto", "image model file: float, int8, or auto (int8 where the folder has it)",
                            choices=PRECISIONS),
    "flip_tta": Spec(True, "also classify each face's mirror image and average the scores (and the clip heads' "
                           "outputs), at twice the classification time; the model cards give what it changes"),
    "class_balance": Spec(-1.0, "the decision: scores divided by the training prior to this power, 0 as trained "
                                "(favours neutral and happy, as FER2013 does) to 1 (every class alike); negative: "
                                "the model card's choice (v4: 0.8, chosen on PublicTest)", low=-1.0,
                          high=MAX_CLASS_BALANCE, dynamic=True),
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
    "managed": Spec(False, "a lifecycle node: load the models on configure and listen on activate (ros2 lifecycle, "
                           "launch_ros LifecycleNode); false: both at start"),
    "clip_stride": Spec(6, "frames between two clip classifications of the same face", low=1, high=300,
                        dynamic=True),
}


class EmotionNode(ManagedNode):
    """The emotion node; with `managed` true a lifecycle node that waits to be configured
    (models loaded) and activated (images subscribed), as ROS4HRI's nodes are."""

    def __init__(self, **kwargs):
        super().__init__("emotion", **kwargs)
        # First, so that a node stopped while it starts (SIGTERM during model loading) can be destroyed.
        self._frame_ready = threading.Condition()
        self._stopping = False
        self._worker: threading.Thread | None = None
        self._inputs: list = []
        self.hri: HriFaces | None = None
        self.params = declare_all(self, PARAMETERS)
        self.add_on_set_parameters_callback(refuse_invalid(PARAMETERS, self._apply))
        self.start(self.params["managed"])

    def load(self) -> None:
        """configure: models, detector, per-camera pipelines, publishers, the worker thread."""
        p = self.params
        self.topics = image_topics(p["image_topic"])
        self.classifier = image_classifier(p)
        detector = FaceDetector(p["detector"], p["upsample"], p["min_face_size"], self._min_score(p),
                                p["detect_scale"], p["detect_max_side"])
        self.aligner = FaceAligner(detector, p["x_factor"], p["y_factor"], p["max_faces"], p["eyes"])
        ids = itertools.count(1)  # one sequence of track ids for every camera
        # One pipeline (tracker, detection schedule) per camera; the models and detector are shared.
        self.pipelines = {topic: EmotionPipeline(self.aligner, self.classifier, IouTracker(
            p["track_min_iou"], p["track_max_missed"], ids), p["detect_every"]) for topic in self.topics}
        first = clip_stage_for(p, self.classifier)
        self.clip_stages = {t: first.sibling() if first and i else first for i, t in enumerate(self.topics)}
        self.clip_stage = first  # its models and settings, shared by every camera's stage
        self.hri = HriFaces(self, self.aligner) if p["hri"] else None
        self.stats = FrameStats()
        self.clips_published = 0
        self.restarts = 0  # streams that went back in time
        self._clip_text: dict[str, dict[int, str]] = {}  # per camera, last clip result per track (annotated image)
        self.publisher = self.create_publisher(FaceEmotionArray, "emotions", 10)
        self.clip_publisher = self.create_publisher(ClipEmotion, "clip_emotions", 10)
        self.annotated = self.create_publisher(Image, "image_annotated", 1)
        self.diagnostics = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self._diagnostics_timer = self.create_timer(p["diagnostics_period"], self.publish_diagnostics)
        self._pending: dict[str, Image | CompressedImage] = {}  # the newest frame of each camera, oldest first
        self._last_stamp = dict.fromkeys(self.topics, (-1, -1))
        self._stopping = False
        self._worker = threading.Thread(target=self._work, name="fer_emotion_worker", daemon=True)
        self._worker.start()

    def open_inputs(self) -> None:
        """activate: the camera subscriptions."""
        self._inputs = [self.create_subscription(CompressedImage if is_compressed(topic) else Image, topic,
                                                 lambda msg, t=topic: self.on_image(msg, t), LATEST_FRAME_QOS)
                        for topic in self.topics]
        clip_models = ", ".join(m.name for m in self.clip_stage.models.values()) if self.clip_stage else ""
        outputs = [self.publisher.topic_name]
        outputs += [f"{self.clip_publisher.topic_name} ({clip_models})"] if clip_models else []
        outputs += ["/humans/faces/ (ROS4HRI)"] if self.hri else []
        listening = ", ".join(f"{t} ({'compressed' if is_compressed(t) else 'raw'})" for t in self.topics)
        self.get_logger().info(f"listening on {listening}; model "
                               f"{self.classifier.name}; publishing {', '.join(outputs)}")

    def close_inputs(self) -> None:
        """deactivate: no more frames taken; the one waiting is dropped, the models stay."""
        for subscription in self._inputs:
            self.destroy_subscription(subscription)
        self._inputs = []
        with self._frame_ready:
            self._pending.clear()

    def unload(self) -> None:
        """cleanup (and destroy): the worker stopped, publishers and models freed."""
        with self._frame_ready:
            self._stopping = True
            self._frame_ready.notify()
        if self._worker is not None:
            self._worker.join(timeout=5.0)
            self._worker = None
        if self.hri is not None:
            self.hri.close()
            self.hri = None
        for name in ("publisher", "clip_publisher", "annotated", "diagnostics"):
            if getattr(self, name, None) is not None:
                self.destroy_publisher(getattr(self, name))
                setattr(self, name, None)
        if getattr(self, "_diagnostics_timer", None) is not None:
            self.destroy_timer(self._diagnostics_timer)
            self._diagnostics_timer = None
        self.classifier = self.aligner = self.clip_stage = None
        self.pipelines, self.clip_stages = {}, {}

    @staticmethod
    def _min_score(p: dict) -> float:
        return p["hog_threshold"] if p["detector"] == "hog" else p["detection_threshold"]

    def _apply(self, name: str, value) -> None:
        """A validated run-time change, applied to the part of the pipeline that uses it (at the
        next configure, when the node is not configured)."""
        self.params[name] = value
        self.get_logger().info(f"parameter {name} set to {value!r}")
        if not self.loaded:
            return
        aligner = self.aligner
        if name in ("detection_threshold", "hog_threshold"):
            aligner.detector.min_score = self._min_score(self.params)
        if name == "class_balance":
            set_class_balance(self.classifier, value)
        targets = {"min_face_size": [(aligner.detector, "min_size")], "max_faces": [(aligner, "max_faces")],
                   "detect_scale": [(aligner.detector, "scale")], "detect_max_side": [(aligner.detector, "max_side")],
                   "x_factor": [(aligner, "x_factor")], "y_factor": [(aligner, "y_factor")],
                   "track_min_iou": [(q.tracker, "min_iou") for q in self.pipelines.values()],
                   "track_max_missed": [(q.tracker, "max_missed") for q in self.pipelines.values()],
                   "detect_every": [(q, "detect_every") for q in self.pipelines.values()],
                   "clip_stride": [(stage, "stride") for stage in self.clip_stages.values()]}
        for target, attribute in targets.get(name, []):
            if target is not None:
                setattr(target, attribute, value)

    def on_image(self, msg: Image | CompressedImage, topic: str) -> None:
        with self._frame_ready:
            if topic in self._pending:
                self.stats.frame_dropped()
            self._pending[topic] = msg  # replaces that camera's waiting frame, keeps its turn
            self._frame_ready.notify()

    def _work(self) -> None:
        while True:
            with self._frame_ready:
                self._frame_ready.wait_for(lambda: self._pending or self._stopping)
                if self._stopping:
                    return
                topic = next(iter(self._pending))  # the camera that has waited longest
                msg = self._pending.pop(topic)
            try:
                self.process(msg, topic)
            except Exception as e:  # whatever went wrong with this frame, the next one is processed
                if not self.context.ok():
                    return  # Ctrl-C shut the context down while this frame was processed: stop quietly
                count_failure(self, self.stats, e, BAD_INPUT, "frame")

    def process(self, msg: Image | CompressedImage, topic: str) -> None:
        """One frame of the camera on `topic`: a result on /fer/emotions, or an exception
        (counted by the worker)."""
        start = time.monotonic()
        stamp, last = (msg.header.stamp.sec, msg.header.stamp.nanosec), self._last_stamp[topic]
        if stamp <= last:
            back_s = (last[0] - stamp[0]) + (last[1] - stamp[1]) * 1e-9
            if back_s <= RESTART_AFTER_JUMP_S:
                raise OutOfOrderFrame(f"stamp {stamp[0]}.{stamp[1]:09d} is not newer than the last "
                                      f"frame's {last[0]}.{last[1]:09d} on {topic}")
            self._restart(topic, back_s)
        pixels = self._pixels(msg)
        results = self.pipelines[topic].process(pixels)
        stage = self.clip_stages[topic]
        clips = stage.process(results, msg.header.stamp) if stage else []
        self._last_stamp[topic] = stamp
        self.publisher.publish(emotions_message(msg.header, self.classifier.labels, results,
                                                self.params["confidence_threshold"]))
        if self.hri:
            self.hri.publish(msg.header, pixels, results, self.params["confidence_threshold"], topic)
        for clip in clips:
            self.clip_publisher.publish(self._clip_message(msg, clip))
        self.clips_published += len(clips)
        present = {r.track_id for r in results}
        texts = self._clip_text[topic] = {t: text for t, text in self._clip_text.get(topic, {}).items()
                                          if t in present} | {
            c.track_id: f"clip {c.model}: {c.label} {c.confidence:.2f}" for c in clips}
        now_ns = self.get_clock().now().nanoseconds
        self.stats.frame_done((time.monotonic() - start) * 1000.0,
                              (now_ns - (stamp[0] * 1_000_000_000 + stamp[1])) / 1e6, len(results))
        if self.annotated.get_subscription_count() > 0:
            drawn = draw_results(to_bgr8(pixels), results, texts)
            self.annotated.publish(array_to_image(drawn, "bgr8", msg.header))

    def _restart(self, topic: str, back_s: float) -> None:
        """The stream on `topic` went back in time (a bag played again, a simulation reset): its
        tracks and clip buffers start afresh instead of every later frame being refused."""
        self.pipelines[topic].reset()
        if self.clip_stages[topic]:
            self.clip_stages[topic].reset()
        self.restarts += 1
        self.get_logger().info(f"{topic}: the stamp went back {back_s:.1f} s; tracks and clips start afresh")

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

    def _clip_message(self, source: Image | CompressedImage, clip: ClipResult) -> ClipEmotion:
        return ClipEmotion(
            header=source.header, track_id=clip.track_id, start_stamp=clip.start_stamp, end_stamp=clip.end_stamp,
            frame_count=clip.frame_count, model=clip.model,
            label=clip.label if clip.confidence >= self.params["confidence_threshold"] else UNKNOWN,
            confidence=clip.confidence, scores=clip.scores.astype(float).tolist(),
            labels=list(self.clip_stage.models[clip.model].labels))

    def publish_diagnostics(self) -> None:
        s = self.stats.snapshot()
        errors = sum(s["errors"].values())
        if s["failed_recently"] and not s["done_recently"]:
            period = self.params["diagnostics_period"]
            level, message = DiagnosticStatus.ERROR, f"every frame of the last {period:g} s failed"
        else:
            level = DiagnosticStatus.WARN if errors else DiagnosticStatus.OK
            message = f"{s['fps']:.1f} fps, {s['faces']} face(s), {errors} bad frames"
        values = {"fps": f"{s['fps']:.2f}", "processing_time_ms": f"{s['processing_time_ms']:.2f}",
                  "latency_ms": f"{s['latency_ms']:.2f}", "frames_processed": s["frames_processed"],
                  "frames_dropped": s["frames_dropped"], "faces_tracked": s["faces"],
                  "errors_total": errors, "model": self.classifier.name, "clips_published": self.clips_published,
                  "stream_restarts": self.restarts, "class_balance": f"{self.classifier.class_balance:g}",
                  **{f"errors.{kind}": count for kind, count in sorted(s["errors"].items())}}
        self.diagnostics.publish(diagnostic_array(self, level, message, values))


def image_classifier(p: dict) -> EmotionClassifier:
    """The image model the parameters `p` ask for (model_dir, flip_tta, model_precision, class_balance)."""
    return EmotionClassifier(Path(p["model_dir"]) if p["model_dir"] else SHIPPED_IMAGE_MODEL, p["flip_tta"],
                             p["model_precision"], card_default(p["class_balance"]))


def set_class_balance(classifier: EmotionClassifier, class_balance: float) -> None:
    """A run-time change of the `class_balance` parameter (negative: the model card's choice)."""
    tau = card_default(class_balance)
    try:
        classifier.set_class_balance(classifier.card.get("class_balance", 0.0) if tau is None else tau)
    except ModelFileError as e:
        raise ParameterError(str(e)) from e


def card_default(class_balance: float) -> float | None:
    """The `class_balance` parameter as EmotionClassifier takes it: negative means the card's."""
    return None if class_balance < 0 else class_balance


def clip_stage_for(p: dict, image_model: EmotionClassifier) -> ClipStage | None:
    """The clip stage the parameters `p` ask for (clip_model, clip_model_dir, clip_length,
    clip_stride), or None when it is off."""
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


def image_topics(parameter: str) -> list[str]:
    """The camera topics of the `image_topic` parameter (comma-separated), checked."""
    topics = [t.strip() for t in parameter.split(",")]
    if not all(topics) or len(set(topics)) != len(topics):
        raise ParameterError(f"parameter 'image_topic' must name one or more distinct topics separated by "
                             f"commas, got {parameter!r}")
    return topics


def is_compressed(topic: str) -> bool:
    return topic.rstrip("/").endswith("/compressed")


def emotions_message(header: Header, labels: tuple[str, ...], results: list[FaceResult],
                     threshold: float) -> FaceEmotionArray:
    """One frame's FaceEmotionArray: the source image's header, a face per result (label
    `unknown` below `threshold`, scores always)."""
    out = FaceEmotionArray(header=header, labels=list(labels))
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


class OutOfOrderFrame(ValueError):
    """A frame stamped no later than one already processed (replayed, or from a reset clock)."""


BAD_INPUT = (ImageConversionError, OutOfOrderFrame)  # the frame's fault: one line, no traceback


def main(args: list[str] | None = None) -> int:
    return run_node(EmotionNode, args)
