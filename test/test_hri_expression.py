"""The hri_expression node in-process, fed REP-155 faces as hri_face_detect publishes them
(tracked list, roi, landmarks, the 128x128 zero-padded `cropped` image) by a probe node that
plays hri_face_detect's part here; the real hri_face_detect feeds it in test_hri_face_detect.py.
Checked: the answer's header and constant, our framing from the pupils, ids followed and
forgotten, bad face images counted and skipped, the lifecycle."""

import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticArray
from needs import hri_msgs
from rclpy.lifecycle import TransitionCallbackReturn
from rclpy.parameter import Parameter
from ros_helpers import ros_node, spin_until
from sensor_msgs.msg import Image
from std_msgs.msg import Header

from fer_ros.ros.hri_faces import EXPRESSIONS, HRI_QOS
from fer_ros.ros.image_conversion import array_to_image
from fer_ros.sample_clip import face_frame
from fer_ros.vision.align import FaceAligner, align_face
from fer_ros.vision.classify import EmotionClassifier
from fer_ros.vision.detect import FaceDetector
from fer_ros.vision.hri_crops import box_in_pixels, eyes_in_aligned, eyes_in_cropped
from fer_ros.vision.image_ops import fit_into_square, to_grey

pytestmark = hri_msgs


def rep155_face(frame: np.ndarray) -> tuple:
    """(box, eyes, roi values, cropped image) of the face in `frame`, as hri_face_detect makes them."""
    face = FaceAligner(FaceDetector("yunet"), eyes="detector").faces(frame)[0]
    height, width = frame.shape[:2]
    b = face.box
    roi = (b.x / width, b.y / height, (b.x + b.w) / width, (b.y + b.h) / height)
    return b, (face.left_eye, face.right_eye), roi, fit_into_square(frame, tuple(b), 128)


class FaceFeed:
    """A probe's publishers of one face id's REP-155 topics and of the tracked list."""

    def __init__(self, probe, fid: str):
        import hri_msgs.msg as hri

        self.hri, self.fid = hri, fid
        ns = f"/humans/faces/{fid}"
        self.tracked = probe.create_publisher(hri.IdsList, "/humans/faces/tracked", HRI_QOS)
        self.roi = probe.create_publisher(hri.NormalizedRegionOfInterest2D, f"{ns}/roi", HRI_QOS)
        self.landmarks = probe.create_publisher(hri.FacialLandmarks, f"{ns}/landmarks", HRI_QOS)
        self.cropped = probe.create_publisher(Image, f"{ns}/cropped", HRI_QOS)
        self.answers: list = []
        probe.create_subscription(hri.Expression, f"{ns}/expression", self.answers.append, 10)

    def send(self, frame: np.ndarray, sec: int, image: Image | None = None) -> Header:
        """One frame's messages of this face (its `cropped` replaced by `image` when given)."""
        hri = self.hri
        header = Header(frame_id="hri_cam")
        header.stamp.sec = sec
        box, eyes, roi, cropped = rep155_face(frame)
        height, width = frame.shape[:2]
        marks = hri.FacialLandmarks(header=header, width=width, height=height)
        for index, (x, y) in ((hri.FacialLandmarks.RIGHT_PUPIL, eyes[0]), (hri.FacialLandmarks.LEFT_PUPIL, eyes[1])):
            marks.landmarks[index] = hri.NormalizedPointOfInterest2D(x=x / width, y=y / height, c=0.9)
        self.roi.publish(hri.NormalizedRegionOfInterest2D(header=header, xmin=roi[0], ymin=roi[1], xmax=roi[2],
                                                          ymax=roi[3], c=0.9))
        self.landmarks.publish(marks)
        if image is not None:
            image.header = header
        self.cropped.publish(image if image is not None else array_to_image(cropped, "bgr8", header))
        return header

    def followed(self, count: int = 1) -> bool:
        """True once the node reads (1) or no longer reads (0) all three of this face's topics."""
        return all(p.get_subscription_count() == count for p in (self.roi, self.landmarks, self.cropped))

    def list(self, ids: list[str]) -> None:
        self.tracked.publish(self.hri.IdsList(ids=ids))


def expression_node(context, *extra: Parameter):
    from fer_ros.nodes.hri_expression_node import HriExpressionNode

    return HriExpressionNode(context=context, parameter_overrides=[Parameter("clip_model", value="none"), *extra])


def test_eyes_map_into_both_face_images():
    """`/cropped` (the box scaled into the square, centred): two dots drawn at the pupils land
    where the map puts them; `/aligned` (turned level first): the map gives level eyes, as far apart."""
    frame = face_frame(0.3)
    box, eyes, roi, _ = rep155_face(frame)
    height, width = frame.shape[:2]
    assert box_in_pixels(roi, width, height) == box
    dots = np.zeros((height, width, 3), np.uint8)
    for x, y in eyes:
        dots[int(round(y)) - 1:int(round(y)) + 2, int(round(x)) - 1:int(round(x)) + 2] = 255
    cropped = to_grey(fit_into_square(dots, tuple(box), 128)).astype(float)
    mapped = eyes_in_cropped(box, tuple((round(x), round(y)) for x, y in eyes), 128, 128)
    for x, y in mapped:
        ys, xs = np.nonzero(cropped[int(y) - 6:int(y) + 7, int(x) - 6:int(x) + 7] > 60)
        assert abs(np.mean(xs) - 6 - (x - int(x))) < 1.0 and abs(np.mean(ys) - 6 - (y - int(y))) < 1.0
    (lx, ly), (rx, ry) = eyes_in_cropped(box, eyes, 128, 128)
    (alx, aly), (arx, ary) = eyes_in_aligned(box, eyes, (width, height), 128, 128)
    assert abs(aly - ary) < 1e-3  # level
    assert abs(np.hypot(arx - alx, ary - aly) - np.hypot(rx - lx, ry - ly)) < 1e-3  # a turn keeps the distance


def test_each_face_image_is_answered_with_its_header_and_our_label():
    with ros_node("hri_probe") as (context, probe, executor):
        node = expression_node(context, Parameter("managed", value=False))
        executor.add_node(node)
        feed = FaceFeed(probe, "fabcd")
        try:
            feed.list(["fabcd"])
            assert spin_until(executor, lambda: feed.followed(), 20)
            frame = face_frame(0.5)
            header = feed.send(frame, 41)
            assert spin_until(executor, lambda: feed.answers, 20)
            answer = feed.answers[0]
            assert answer.header == header and answer.valence == 0.0 and answer.arousal == 0.0
            # The same label as our classifier on our framing of the source frame, from the same pupils.
            box, eyes, _, _ = rep155_face(frame)
            classifier = EmotionClassifier(flip=True)
            scores = classifier.scores(align_face(to_grey(frame), *eyes)[None])[0]
            assert answer.expression == EXPRESSIONS[classifier.labels[int(np.argmax(scores))]]
            assert abs(answer.confidence - float(np.max(scores))) < 0.1
        finally:
            node.destroy_node()


def test_the_clip_head_answers_each_id_once_its_buffer_is_full():
    with ros_node("hri_probe") as (context, probe, executor):
        node = expression_node(context, Parameter("managed", value=False), Parameter("clip_model", value="lstm"),
                               Parameter("clip_stride", value=6))
        executor.add_node(node)
        feed = FaceFeed(probe, "fclip")
        clips: list = []
        probe.create_subscription(feed.hri.Expression, "/humans/faces/fclip/clip_expression", clips.append, 10)
        try:
            feed.list(["fclip"])
            assert spin_until(executor, lambda: feed.followed(), 20)
            headers = []
            for i in range(18):  # each answered before the next (the node reads at depth 1)
                headers.append(feed.send(face_frame(i / 18), 70 + i))
                assert spin_until(executor, lambda n=i + 1: len(feed.answers) == n, 20)
            assert spin_until(executor, lambda: len(clips) == 2, 20)  # after the 12th, then 6 later
            assert [c.header for c in clips] == [headers[11], headers[17]]
            assert all(c.expression in EXPRESSIONS.values() and 0 < c.confidence <= 1 for c in clips)
        finally:
            node.destroy_node()


def test_ids_are_followed_and_forgotten_and_bad_face_images_are_counted_and_skipped():
    with ros_node("hri_probe") as (context, probe, executor):
        node = expression_node(context, Parameter("managed", value=False), Parameter("diagnostics_period", value=0.2))
        executor.add_node(node)
        feed = FaceFeed(probe, "fbadx")
        reports: list[DiagnosticArray] = []
        probe.create_subscription(DiagnosticArray, "/diagnostics", reports.append, 50)
        frame = face_frame(0.1)

        def errors(kind: str) -> int:
            values = [dict((v.key, v.value) for v in s.values) for r in reports for s in r.status
                      if s.name == "fer_ros: hri_expression"]
            return int(values[-1].get(f"errors.{kind}", 0)) if values else 0

        try:
            feed.list(["fbadx"])
            assert spin_until(executor, lambda: feed.followed(), 20)
            wrong = Image(encoding="32FC1", height=128, width=128, step=512, data=bytes(128 * 512))
            empty = Image(encoding="bgr8", height=0, width=0, step=0)
            for sec, image, kind in ((50, wrong, "ImageConversionError"), (51, empty, "BadFaceInput")):
                feed.send(frame, sec, image)  # each in turn: the node reads at depth 1
                assert spin_until(executor, lambda kind=kind: errors(kind) == 1, 20), reports[-1:]
            assert feed.answers == []
            header = feed.send(frame, 52)  # the next good one is answered
            assert spin_until(executor, lambda: feed.answers, 20) and feed.answers[-1].header == header
            feed.list([])  # the id left: its topics are closed
            assert spin_until(executor, lambda: feed.followed(0)
                              and probe.count_publishers("/humans/faces/fbadx/expression") == 0, 20)
            feed.list(["fbadx"])  # it came back: answered again
            assert spin_until(executor, lambda: feed.followed(), 20)
            header = feed.send(frame, 53)
            assert spin_until(executor, lambda: feed.answers[-1].header == header, 20)
        finally:
            node.destroy_node()


def test_lifecycle_configure_fails_with_the_reason_and_inactive_gives_no_answers(tmp_path):
    with ros_node("hri_probe") as (context, probe, executor):
        bad = expression_node(context, Parameter("model_dir", value=str(tmp_path)))
        logged: list[str] = []
        bad.get_logger().error = lambda text, **kwargs: logged.append(text)
        try:
            assert bad.trigger_configure() == TransitionCallbackReturn.FAILURE
            assert any(str(tmp_path) in line for line in logged) and not bad.loaded
        finally:
            bad.destroy_node()
        node = expression_node(context)  # managed by default, as ROS4HRI's nodes
        executor.add_node(node)
        feed = FaceFeed(probe, "flife")
        try:
            assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS
            feed.list(["flife"])
            assert not spin_until(executor, lambda: feed.cropped.get_subscription_count() > 0, 1.0)  # inactive
            assert node.trigger_activate() == TransitionCallbackReturn.SUCCESS
            feed.list(["flife"])
            assert spin_until(executor, lambda: feed.followed(), 20)
            header = feed.send(face_frame(0.2), 60)
            assert spin_until(executor, lambda: feed.answers and feed.answers[-1].header == header, 20)
            assert node.trigger_deactivate() == TransitionCallbackReturn.SUCCESS
            assert spin_until(executor, lambda: feed.followed(0), 20)
            assert node.trigger_cleanup() == TransitionCallbackReturn.SUCCESS and node.classifier is None
        finally:
            node.destroy_node()


def test_a_face_image_it_cannot_read_is_refused_at_start():
    from fer_ros.ros.params import ParameterError

    with ros_node("hri_probe") as (context, _, executor):
        with pytest.raises(ParameterError, match="face_image"):
            expression_node(context, Parameter("face_image", value="raw"))
