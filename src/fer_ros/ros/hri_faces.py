"""ROS4HRI (REP-155) face output of the emotion node (parameter `hri`), so that behaviours
written against ROS4HRI (libhri, pyhri) read our faces without glue code.

Per processed frame: `/humans/faces/tracked` (hri_msgs/IdsList, the source image's header, also
when empty), and per face id `f<track id, 5 digits>` under `/humans/faces/<id>/`: `roi`
(NormalizedRegionOfInterest2D), `cropped` (the box scaled into 128x128, centred, zero-padded,
bgr8), `aligned` (the eye-levelled crop at 128x128, mono8), `landmarks` (FacialLandmarks: the
two pupils, the other 68 points unknown: zeros with c = 0) and `expression` (Expression: the FER
label mapped to its constant; valence and arousal 0, a 7-class model has no source for them).
A face's publishers are created before its id is first listed and destroyed after the first
list without it. QoS: reliable, volatile, keep-last 1 (REP-155).

The emotion node's worker thread builds each frame's messages; the executor's thread, which owns
the node's entities, creates and destroys the per-face publishers and publishes, woken by a
guard condition.
"""

import threading
from collections import deque
from typing import Any

import numpy as np
from rclpy.node import Node
from rclpy.qos import QoSDurabilityPolicy, QoSHistoryPolicy, QoSProfile, QoSReliabilityPolicy
from sensor_msgs.msg import Image
from std_msgs.msg import Header

from fer_ros.ros.image_conversion import array_to_image
from fer_ros.ros.params import ParameterError
from fer_ros.vision.align import FaceAligner, align_face
from fer_ros.vision.image_ops import fit_into_square, to_bgr8, to_grey
from fer_ros.vision.pipeline import FaceResult

HRI_QOS = QoSProfile(depth=1, reliability=QoSReliabilityPolicy.RELIABLE, durability=QoSDurabilityPolicy.VOLATILE,
                     history=QoSHistoryPolicy.KEEP_LAST)
FACE_IMAGE_SIZE = 128
EXPRESSIONS = {"angry": "angry", "disgust": "disgusted", "fear": "scared", "happy": "happy", "sad": "sad",
               "surprise": "surprised", "neutral": "neutral"}


def face_id(track_id: int) -> str:
    """A topic-name token (it must start with a letter)."""
    return f"f{track_id:05d}"


def load_hri_msgs(needed_by: str = "parameter 'hri' is true",
                  remedy: str = "; start with hri:=false for /fer/emotions alone") -> Any:
    try:
        import hri_msgs.msg
    except ImportError as e:
        raise ParameterError(f"{needed_by} but hri_msgs is not installed (on a ROS install: apt install "
                             f"ros-$ROS_DISTRO-hri-msgs; pip path: make setup builds it from ../shared/ros4hri)"
                             f"{remedy}") from e
    return hri_msgs.msg


class HriFaces:
    def __init__(self, node: Node, aligner: FaceAligner):
        self.msgs = load_hri_msgs()
        self.node = node
        self.aligner = aligner  # its crop factors, which may change at run time
        self.tracked = node.create_publisher(self.msgs.IdsList, "/humans/faces/tracked", HRI_QOS)
        self._faces: dict[str, dict[str, Any]] = {}  # id -> topic -> publisher (executor thread only)
        self._by_source: dict[str, list[str]] = {}  # camera -> ids in its last frame (worker thread only)
        self._lock = threading.Lock()
        self._outbox: deque = deque()  # (faces' messages, IdsList) per frame, from worker to executor
        self._wake = node.create_guard_condition(self._flush)

    def publish(self, header: Header, pixels: np.ndarray, results: list[FaceResult], threshold: float,
                source: str = "") -> None:
        """One frame's faces (from the worker thread); `expression` only for a face classified at
        `threshold` or above with one of the 7 FER labels (REP-155 consumers understand only its
        constants). With several cameras (`source`, e.g. the image topic), `tracked` lists the
        faces of every camera's last frame: track ids are unique across them."""
        ids = [face_id(r.track_id) for r in results]
        self._by_source[source] = ids
        listed = [fid for source_ids in self._by_source.values() for fid in source_ids]
        grey = to_grey(pixels)
        colour = to_bgr8(pixels)
        height, width = grey.shape[:2]
        faces = [(fid, self._face_messages(header, grey, colour, r, width, height,
                                           r.confidence >= threshold and r.label in EXPRESSIONS))
                 for fid, r in zip(ids, results)]  # a label of another model: no expression
        with self._lock:
            self._outbox.append((faces, self.msgs.IdsList(header=header, ids=listed)))
        self._wake.trigger()

    def close(self) -> None:
        """Every publisher of this output destroyed (the node's cleanup)."""
        for publishers in self._faces.values():
            for publisher in publishers.values():
                self.node.destroy_publisher(publisher)
        self._faces.clear()
        self.node.destroy_publisher(self.tracked)
        self.node.destroy_guard_condition(self._wake)

    def _flush(self) -> None:
        """On the executor's thread: each waiting frame's publishers made, messages sent, the
        publishers of faces no longer listed destroyed."""
        while True:
            with self._lock:
                if not self._outbox:
                    return
                faces, tracked = self._outbox.popleft()
            for fid, messages in faces:
                if fid not in self._faces:  # before the id is first listed
                    self._faces[fid] = self._create_publishers(fid)
                for name, msg in messages.items():
                    self._faces[fid][name].publish(msg)
            self.tracked.publish(tracked)
            for fid in set(self._faces) - set(tracked.ids):  # after the first list without it
                for publisher in self._faces.pop(fid).values():
                    self.node.destroy_publisher(publisher)

    def _create_publishers(self, fid: str) -> dict[str, Any]:
        m = self.msgs
        types = {"roi": m.NormalizedRegionOfInterest2D, "cropped": Image, "aligned": Image,
                 "landmarks": m.FacialLandmarks, "expression": m.Expression}
        return {name: self.node.create_publisher(t, f"/humans/faces/{fid}/{name}", HRI_QOS)
                for name, t in types.items()}

    def _face_messages(self, header: Header, grey: np.ndarray, colour: np.ndarray, r: FaceResult, width: int,
                       height: int, with_expression: bool) -> dict[str, Any]:
        m, b = self.msgs, r.face.box
        messages = {"roi": m.NormalizedRegionOfInterest2D(
            header=header, xmin=max(0.0, b.x / width), ymin=max(0.0, b.y / height),
            xmax=min(1.0, (b.x + b.w) / width), ymax=min(1.0, (b.y + b.h) / height), c=1.0)}
        messages["cropped"] = array_to_image(fit_into_square(colour, tuple(b), FACE_IMAGE_SIZE), "bgr8", header)
        aligned = align_face(grey, r.face.left_eye, r.face.right_eye, self.aligner.x_factor, self.aligner.y_factor,
                             FACE_IMAGE_SIZE)
        messages["aligned"] = array_to_image(aligned, "mono8", header)
        landmarks = m.FacialLandmarks(header=header, height=height, width=width)
        # Image-left eye is the subject's right.
        for index, (x, y) in ((m.FacialLandmarks.RIGHT_PUPIL, r.face.left_eye),
                              (m.FacialLandmarks.LEFT_PUPIL, r.face.right_eye)):
            landmarks.landmarks[index] = m.NormalizedPointOfInterest2D(x=x / width, y=y / height, c=1.0)
        messages["landmarks"] = landmarks
        if with_expression:
            messages["expression"] = m.Expression(header=header, expression=EXPRESSIONS[r.label],
                                                  valence=0.0, arousal=0.0, confidence=r.confidence)
        return messages
