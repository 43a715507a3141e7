"""ROS4HRI expression node: our expressions for the faces that ROS4HRI's `hri_face_detect`
publishes, as a drop-in for `hri_emotion_recognizer` (a managed node, as ROS4HRI's are).

In: `/humans/faces/tracked` (hri_msgs/IdsList) and, for each listed id, `/humans/faces/<id>/roi`,
`/landmarks` and `/cropped` (or `/aligned`: parameter `face_image`), matched by stamp; the
subscriptions are made when an id is first listed and removed after the first list without it.
Each face image gets our framing from the pupils (`fer_ros.vision.hri_crops`), then our
classifier. Out, per id: `/humans/faces/<id>/expression` (hri_msgs/Expression: the face image's
header, the REP-155 constant of our label, our calibrated confidence; valence and arousal 0, a
7-class model has no source for them) and `/humans/faces/<id>/clip_expression` (the clip head over
the id's last `clip_length` faces, stamped with the last one's). Reliable, volatile: depth 10 for
the expressions (as hri_emotion_recognizer; libhri reads with system-default QoS), depth 1 for the
inputs. A bad face image (wrong encoding, empty, no pupils) is logged, counted by kind in
/diagnostics and skipped.
"""

import itertools
import time
from dataclasses import dataclass
from typing import Any

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from sensor_msgs.msg import Image

from fer_ros.nodes.emotion_node import PARAMETERS as EMOTION_PARAMETERS
from fer_ros.nodes.emotion_node import clip_stage_for, image_classifier, set_class_balance
from fer_ros.ros.diagnostics import count_failure, diagnostic_array
from fer_ros.ros.frame_stats import FrameStats
from fer_ros.ros.hri_faces import EXPRESSIONS, HRI_QOS, load_hri_msgs
from fer_ros.ros.image_conversion import ImageConversionError, image_to_array, to_vision_order
from fer_ros.ros.managed_node import ManagedNode
from fer_ros.ros.node_main import run_node
from fer_ros.ros.params import Spec, declare_all, refuse_invalid
from fer_ros.vision.clip_stage import ClipStage
from fer_ros.vision.hri_crops import (
    FACE_IMAGES,
    box_in_pixels,
    eyes_in_aligned,
    eyes_in_cropped,
    frame_face_image,
    pupils,
)
from fer_ros.vision.pipeline import classify_faces

EXPRESSION_QOS_DEPTH = 10
MIN_FACE_IMAGE_SIDE = 8  # pixels; hri_face_detect's are 128x128
SHARED = ("model_dir", "model_precision", "flip_tta", "class_balance", "confidence_threshold", "x_factor",
          "y_factor", "clip_model_dir", "clip_length", "clip_stride", "diagnostics_period")
PARAMETERS = {
    "face_image": Spec("cropped", "the face image of hri_face_detect to classify: cropped (the box, scaled) or "
                                  "aligned (turned level); either gets our framing from the pupils",
                       choices=FACE_IMAGES),
    **{name: EMOTION_PARAMETERS[name] for name in SHARED},
    "clip_model": Spec("lstm", "clip expressions on /humans/faces/<id>/clip_expression by lstm or c3d, or none",
                       choices=("lstm", "c3d", "none")),
    "managed": Spec(True, "a lifecycle node, as ROS4HRI's (configure loads the models, activate subscribes); "
                          "false: both at start"),
}


class BadFaceInput(ValueError):
    """A face's messages that cannot be classified (no pupils, no box, no image size)."""


class FaceInputs:
    """The newest roi, landmarks and face image of one face id, matched by their stamp."""

    def __init__(self, parts: tuple[str, ...]):
        self.parts = parts
        self.stamp: tuple[int, int] = (-1, -1)
        self.held: dict[str, Any] = {}

    def add(self, part: str, msg: Any) -> dict[str, Any] | None:
        """All parts of a frame once the last one came; a part older than those held is late: dropped."""
        stamp = (msg.header.stamp.sec, msg.header.stamp.nanosec)
        if stamp < self.stamp:
            return None
        if stamp > self.stamp:
            self.stamp, self.held = stamp, {}
        self.held[part] = msg
        if len(self.held) < len(self.parts):
            return None
        complete, self.held = self.held, {}
        return complete


@dataclass
class FollowedFace:
    """One listed face id: its inputs, its answers' publishers, its number and clip buffer."""

    inputs: FaceInputs
    number: int  # its track id in the clip stage
    clip: ClipStage | None
    expression: Any  # publishers
    clip_expression: Any
    subscriptions: list


class HriExpressionNode(ManagedNode):
    def __init__(self, **kwargs):
        super().__init__("hri_expression", **kwargs)
        self.msgs = load_hri_msgs("the hri_expression node reads ROS4HRI faces", "")
        self.params = declare_all(self, PARAMETERS)
        self.add_on_set_parameters_callback(refuse_invalid(PARAMETERS, self._apply))
        self._tracked = None
        self._faces: dict[str, FollowedFace] = {}
        self._numbers = itertools.count(1)
        self.classifier = None
        self.start(self.params["managed"])

    def load(self) -> None:
        """configure: the models, the diagnostics."""
        p = self.params
        self.classifier = image_classifier(p)
        self.clip_stage: ClipStage | None = clip_stage_for(p, self.classifier)
        self.stats = FrameStats()
        self.expressions = self.clip_expressions = 0
        self.diagnostics = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self._diagnostics_timer = self.create_timer(p["diagnostics_period"], self.publish_diagnostics)

    def open_inputs(self) -> None:
        """activate: the list of tracked faces (each face's topics follow it)."""
        self._tracked = self.create_subscription(self.msgs.IdsList, "/humans/faces/tracked", self.on_tracked, HRI_QOS)
        self.get_logger().info(f"listening on /humans/faces/tracked and each face's {self.params['face_image']}, "
                               f"landmarks and roi; model {self.classifier.name}; publishing "
                               f"/humans/faces/<id>/expression" + (
                                   f" and clip_expression ({self.params['clip_model']})" if self.clip_stage else ""))

    def close_inputs(self) -> None:
        """deactivate: no more answers; every face's topics closed, the models kept."""
        if self._tracked is not None:
            self.destroy_subscription(self._tracked)
            self._tracked = None
        for fid in list(self._faces):
            self._forget(fid)

    def unload(self) -> None:
        """cleanup: models and diagnostics freed."""
        if getattr(self, "_diagnostics_timer", None) is not None:
            self.destroy_timer(self._diagnostics_timer)
            self.destroy_publisher(self.diagnostics)
            self._diagnostics_timer = self.diagnostics = None
        self.classifier = self.clip_stage = None

    def _apply(self, name: str, value: Any) -> None:
        self.params[name] = value
        self.get_logger().info(f"parameter {name} set to {value!r}")
        if self.classifier is not None and name == "class_balance":
            set_class_balance(self.classifier, value)
        if name == "clip_stride":
            for stage in [self.clip_stage] + [f.clip for f in self._faces.values()]:
                if stage is not None:
                    stage.stride = value

    def on_tracked(self, msg: Any) -> None:
        """Topics opened for the ids listed first now, closed for those no longer listed."""
        listed = set(msg.ids)
        for fid in set(self._faces) - listed:
            self._forget(fid)
        for fid in msg.ids:
            if fid not in self._faces:
                self._follow(fid)

    def _follow(self, fid: str) -> None:
        ns = f"/humans/faces/{fid}"
        image_part = self.params["face_image"]
        inputs = FaceInputs(("roi", "landmarks", image_part))
        types = {"roi": self.msgs.NormalizedRegionOfInterest2D, "landmarks": self.msgs.FacialLandmarks,
                 image_part: Image}
        self._faces[fid] = FollowedFace(
            inputs, next(self._numbers), self.clip_stage.sibling() if self.clip_stage else None,
            self.create_publisher(self.msgs.Expression, f"{ns}/expression", EXPRESSION_QOS_DEPTH),
            self.create_publisher(self.msgs.Expression, f"{ns}/clip_expression", EXPRESSION_QOS_DEPTH)
            if self.clip_stage else None,
            [self.create_subscription(t, f"{ns}/{part}", lambda m, part=part, fid=fid: self.on_part(fid, part, m),
                                      HRI_QOS) for part, t in types.items()])

    def _forget(self, fid: str) -> None:
        face = self._faces.pop(fid)
        for subscription in face.subscriptions:
            self.destroy_subscription(subscription)
        for publisher in (face.expression, face.clip_expression):
            if publisher is not None:
                self.destroy_publisher(publisher)

    def on_part(self, fid: str, part: str, msg: Any) -> None:
        face = self._faces.get(fid)
        if face is None or not self.active:
            return
        parts = face.inputs.add(part, msg)
        if parts is None:
            return
        try:
            self.answer(fid, face, parts)
        except Exception as e:  # this face image failed; the next one is answered as usual
            count_failure(self, self.stats, e, (ImageConversionError, BadFaceInput), "face image")

    def answer(self, fid: str, face: FollowedFace, parts: dict[str, Any]) -> None:
        """One face image classified; its Expression (and clip Expression when a clip completes) published."""
        start = time.monotonic()
        image_part = self.params["face_image"]
        image_msg, landmarks, roi = parts[image_part], parts["landmarks"], parts["roi"]
        if landmarks.width <= 0 or landmarks.height <= 0:
            raise BadFaceInput(f"{fid}: landmarks without the image size ({landmarks.width}x{landmarks.height})")
        source = (landmarks.width, landmarks.height)
        box = box_in_pixels((roi.xmin, roi.ymin, roi.xmax, roi.ymax), *source)
        if box.w <= 0 or box.h <= 0:
            raise BadFaceInput(f"{fid}: empty roi")
        eyes = pupils([(p.x, p.y, p.c) for p in landmarks.landmarks], self.msgs.FacialLandmarks.RIGHT_PUPIL,
                      self.msgs.FacialLandmarks.LEFT_PUPIL, *source)
        if eyes is None:
            raise BadFaceInput(f"{fid}: its landmarks give no pupils")
        pixels = to_vision_order(image_to_array(image_msg), image_msg.encoding)
        height, width = pixels.shape[:2]
        if min(height, width) < MIN_FACE_IMAGE_SIDE:
            raise BadFaceInput(f"{fid}: a {width}x{height} {image_part} image holds no face")
        mapped = (eyes_in_cropped(box, eyes, width, height) if image_part == "cropped"
                  else eyes_in_aligned(box, eyes, source, width, height))
        aligned = frame_face_image(pixels, mapped, self.params["x_factor"], self.params["y_factor"], box)
        result = classify_faces(self.classifier, [aligned], [face.number])[0]
        if result.confidence >= self.params["confidence_threshold"] and result.label in EXPRESSIONS:
            face.expression.publish(self._expression(image_msg.header, result.label, result.confidence))
            self.expressions += 1
        for clip in face.clip.process([result], image_msg.header.stamp) if face.clip else []:
            if clip.confidence >= self.params["confidence_threshold"] and clip.label in EXPRESSIONS:
                header = type(image_msg.header)(stamp=clip.end_stamp, frame_id=image_msg.header.frame_id)
                face.clip_expression.publish(self._expression(header, clip.label, clip.confidence))
                self.clip_expressions += 1
        stamp = image_msg.header.stamp
        now_ns = self.get_clock().now().nanoseconds
        self.stats.frame_done((time.monotonic() - start) * 1000.0,
                              (now_ns - (stamp.sec * 1_000_000_000 + stamp.nanosec)) / 1e6, len(self._faces))

    def _expression(self, header: Any, label: str, confidence: float) -> Any:
        return self.msgs.Expression(header=header, expression=EXPRESSIONS[label], valence=0.0, arousal=0.0,
                                    confidence=float(confidence))

    def publish_diagnostics(self) -> None:
        s = self.stats.snapshot()
        errors = sum(s["errors"].values())
        level = DiagnosticStatus.WARN if errors else DiagnosticStatus.OK
        if s["failed_recently"] and not s["done_recently"]:
            level = DiagnosticStatus.ERROR
        values = {"faces_tracked": len(self._faces), "faces_per_s": f"{s['fps']:.2f}",
                  "face_images_answered": s["frames_processed"], "expressions_published": self.expressions,
                  "clip_expressions_published": self.clip_expressions, "face_images_skipped": errors,
                  "processing_time_ms": f"{s['processing_time_ms']:.2f}", "latency_ms": f"{s['latency_ms']:.2f}",
                  "face_image": self.params["face_image"], "model": self.classifier.name,
                  "class_balance": f"{self.classifier.class_balance:g}",
                  **{f"errors.{kind}": count for kind, count in sorted(s["errors"].items())}}
        message = f"{len(self._faces)} face(s), {s['fps']:.1f} face images/s, {errors} skipped"
        self.diagnostics.publish(diagnostic_array(self, level, message, values))


def main(args: list[str] | None = None) -> int:
    return run_node(HriExpressionNode, args)
