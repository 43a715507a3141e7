"""Camera node -> emotion node (a separate process) -> subscriber, over real DDS."""

import time

import numpy as np
import pytest
import rclpy
from fer_msgs.msg import ClipEmotion, FaceEmotionArray
from rclpy.parameter import Parameter
from rclpy.qos import qos_profile_sensor_data
from ros_helpers import resend_until, ros_node, running, spin_until
from sensor_msgs.msg import Image
from std_msgs.msg import Header

from fer_ros.nodes.camera_node import CameraNode
from fer_ros.ros.image_conversion import array_to_image
from fer_ros.sample_clip import FACE_CENTRE, face_frame, placement, write_clip
from fer_ros.vision.labels import LABELS

FRAMES = 8
PERIOD = 60  # frames per motion cycle, as in the sample clip


@pytest.fixture(scope="module")
def emotion_node():
    with running("emotion_node", "/fer") as process:
        yield process


@pytest.fixture
def ros():
    with ros_node("fer_test_probe") as (context, node, executor):
        results: list[FaceEmotionArray] = []
        node.create_subscription(FaceEmotionArray, "/fer/emotions", results.append, 100)
        yield context, node, executor, results


def wait_for_emotion_node(node, executor, publisher, emotion_node) -> None:
    """Until the emotion node subscribes to `publisher`'s topic and publishes results: the
    probe's own subscriptions to that topic do not count (they did, and frame 1 went nowhere)."""
    def ready() -> bool:
        readers = {(i.node_name, i.node_namespace) for i in node.get_subscriptions_info_by_topic(publisher.topic_name)}
        writers = {(i.node_name, i.node_namespace) for i in node.get_publishers_info_by_topic("/fer/emotions")}
        return ("emotion", "/fer") in readers & writers

    assert spin_until(executor, lambda: ready() or not emotion_node.alive(), 120) and \
        emotion_node.alive(), "emotion node did not start"


def test_camera_frames_come_back_as_face_emotions(tmp_path, emotion_node, ros):
    context, probe, executor, results = ros
    clip = write_clip(tmp_path / "face.mp4", frames=FRAMES, fps=10, period=PERIOD)
    image_stamps = []
    probe.create_subscription(Image, "/camera/image_raw",
                              lambda m: image_stamps.append(m.header.stamp), qos_profile_sensor_data)
    camera = CameraNode(context=context, namespace="camera", parameter_overrides=[
        Parameter("video", value=str(clip)), Parameter("lockstep", value=True),
        Parameter("lockstep_timeout", value=3.0)])
    executor.add_node(camera)
    try:
        # The camera itself waits until the emotion node is ready (lockstep): no wait here.
        spin_until(executor, lambda: len(results) >= FRAMES or not emotion_node.alive(), 180)
        assert len(results) >= FRAMES, f"{len(results)} of {FRAMES} results"
        spin_until(executor, lambda: camera.finished, 5)
    finally:
        executor.remove_node(camera)
        camera.destroy_node()
    assert camera.published == FRAMES and camera.lost == 0
    # Every result carries the header of a published frame, in order.
    stamps = [(r.header.stamp.sec, r.header.stamp.nanosec) for r in results]
    assert stamps == sorted(stamps) and len(set(stamps)) == FRAMES
    assert set(stamps) <= {(s.sec, s.nanosec) for s in image_stamps}
    assert all(r.header.frame_id == "camera" for r in results)
    for i, result in enumerate(results):
        assert list(result.labels) == list(LABELS)
        assert len(result.faces) == 1
        face = result.faces[0]
        cx, cy = placement(i / PERIOD) @ np.array([*FACE_CENTRE, 1.0])
        box = face.box
        assert box.x_offset < cx < box.x_offset + box.width and box.y_offset < cy < box.y_offset + box.height
        assert face.label in LABELS and len(face.scores) == 7
        assert abs(sum(face.scores) - 1.0) < 1e-3 and face.confidence == max(face.scores)
        assert face.left_eye.x < cx < face.right_eye.x
    assert len({r.faces[0].track_id for r in results}) == 1


def request(executor, publisher, results, image: Image, timeout: float = 10.0):
    """Publish one frame (best effort: resend until answered) and return its result."""
    def answer():
        return next((r for r in results if r.header.stamp == image.header.stamp), None)
    resend_until(executor, publisher, image, lambda: answer() is not None, timeout, tries=3)
    return answer()


def test_no_face_gives_an_empty_array_and_a_face_after_it_is_found(emotion_node, ros):
    # Bad frames (counted, skipped, the node going on) are test_robustness.py's, frame by frame
    # through the node's own accounting in /diagnostics.
    _, probe, executor, results = ros
    publisher = probe.create_publisher(Image, "/camera/image_raw", qos_profile_sensor_data)
    wait_for_emotion_node(probe, executor, publisher, emotion_node)

    base = int(time.time()) + 1000  # newer than any frame the node has seen: it drops older ones

    def frame(pixels, encoding, sec):
        return array_to_image(pixels, encoding, Header(frame_id="test", stamp=rclpy.time.Time(
            seconds=base + sec).to_msg()))

    blank = request(executor, publisher, results, frame(np.zeros((240, 320, 3), np.uint8), "bgr8", 101))
    assert blank is not None and list(blank.faces) == [] and list(blank.labels) == list(LABELS)
    good = request(executor, publisher, results, frame(face_frame(0.0), "bgr8", 110))
    assert good is not None and len(good.faces) == 1
    assert emotion_node.alive()


def test_a_tracked_face_gets_clip_emotions_after_12_frames(emotion_node, ros):
    """clip_length 12, clip_stride 6 (config/webcam.yaml): a clip at frame 12 covering frames
    1-12, the next at frame 18 covering 7-18, both for the face's track."""
    _, probe, executor, results = ros
    clips: list[ClipEmotion] = []
    probe.create_subscription(ClipEmotion, "/fer/clip_emotions", clips.append, 100)
    publisher = probe.create_publisher(Image, "/camera/image_raw", qos_profile_sensor_data)
    wait_for_emotion_node(probe, executor, publisher, emotion_node)
    base = int(time.time()) + 2000  # newer than the frames of the other tests
    # A frame without faces first: it ends the clip buffers of faces from earlier tests.
    blank = array_to_image(np.zeros((240, 320, 3), np.uint8), "bgr8", Header(
        frame_id="camera", stamp=rclpy.time.Time(seconds=base - 1).to_msg()))
    assert request(executor, publisher, results, blank) is not None
    stamps, track_ids = [], set()
    for i in range(18):
        image = array_to_image(face_frame(i / PERIOD), "bgr8", Header(
            frame_id="camera", stamp=rclpy.time.Time(seconds=base, nanoseconds=i * 50_000_000).to_msg()))
        answer = request(executor, publisher, results, image)
        assert answer is not None and len(answer.faces) == 1, f"frame {i} not answered with one face"
        stamps.append(image.header.stamp)
        track_ids.add(answer.faces[0].track_id)
    assert spin_until(executor, lambda: len(clips) >= 2, 10), f"{len(clips)} clip results"
    assert len(track_ids) == 1
    ours = [c for c in clips if c.header.stamp.sec == base]
    assert [(c.start_stamp, c.end_stamp, c.header.stamp) for c in ours] == [
        (stamps[0], stamps[11], stamps[11]), (stamps[6], stamps[17], stamps[17])]
    for clip in ours:
        assert clip.track_id in track_ids and clip.frame_count == 12 and clip.model == "lstm"
        assert list(clip.labels) == list(LABELS) and clip.label in LABELS
        assert abs(sum(clip.scores) - 1.0) < 1e-3 and clip.confidence == max(clip.scores)
