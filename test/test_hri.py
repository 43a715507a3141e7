"""ROS4HRI (REP-155) output of the emotion node (hri:=true), read over DDS the way libhri reads
it: the list of ids on /humans/faces/tracked first, then, for each new id, its own topics."""

import subprocess
import sys

import needs
import numpy as np
from rclpy.qos import qos_profile_sensor_data
from ros_helpers import resend_until, ros_node, running, spin_until
from sensor_msgs.msg import Image

from fer_ros.ros.image_conversion import array_to_image, image_to_array
from fer_ros.sample_clip import face_frame
from fer_ros.vision.image_ops import fit_into_square

try:
    import hri_msgs.msg as hri
except ImportError:  # the tests that read ROS4HRI topics skip (needs.hri_msgs)
    hri = None
TOPIC = "/hri_test/image"
PER_FACE = {"roi": "NormalizedRegionOfInterest2D", "cropped": Image, "aligned": Image,
            "landmarks": "FacialLandmarks", "expression": "Expression"}
EXPRESSIONS = {"neutral", "angry", "sad", "happy", "surprised", "disgusted", "scared"}


class LibhriLikeReader:
    """Subscribes to `tracked`; on a new id, to that id's topics (as libhri's FaceListener)."""

    def __init__(self, node):
        self.node = node
        self.lists: list = []
        self.messages: dict[str, dict[str, list]] = {}
        node.create_subscription(hri.IdsList, "/humans/faces/tracked", self.on_tracked, 10)

    def on_tracked(self, msg) -> None:
        self.lists.append(msg)
        for fid in msg.ids:
            if fid not in self.messages:
                self.messages[fid] = {name: [] for name in PER_FACE}
                for name, kind in PER_FACE.items():
                    kind = getattr(hri, kind) if isinstance(kind, str) else kind
                    self.node.create_subscription(kind, f"/humans/faces/{fid}/{name}",
                                                  self.messages[fid][name].append, 10)


@needs.hri_msgs
def test_faces_are_published_the_ros4hri_way_and_their_topics_go_when_they_leave():
    with running("emotion_node", "/fer", "-p", "hri:=true", "-p", "clip_model:=none", "-p", f"image_topic:={TOPIC}"
                 ) as process, ros_node("fer_hri_probe") as (_, node, executor):
        reader = LibhriLikeReader(node)
        images = node.create_publisher(Image, TOPIC, qos_profile_sensor_data)

        def ready() -> bool:
            readers = {(i.node_name, i.node_namespace) for i in node.get_subscriptions_info_by_topic(TOPIC)}
            return ("emotion", "/fer") in readers and node.count_publishers("/humans/faces/tracked") > 0

        assert spin_until(executor, lambda: ready() or not process.alive(), 120) and process.alive()
        def send(i: int, frame: np.ndarray) -> None:
            msg = array_to_image(frame, "bgr8")
            msg.header.stamp.sec, msg.header.frame_id = 10 + i, "camera"
            resend_until(executor, images, msg, lambda: any(m.header.stamp.sec == 10 + i for m in reader.lists))

        frames = [face_frame(i / 30) for i in range(10)] + [np.full((480, 640, 3), 90, np.uint8)] * 3
        for i, frame in enumerate(frames[:10]):
            send(i, frame)
        # While the face is listed, its publishers exist (created before its id was first listed).
        listed_id = reader.lists[0].ids[0]
        assert spin_until(executor, lambda: all(node.count_publishers(f"/humans/faces/{listed_id}/{name}") == 1
                                                for name in PER_FACE), 5)
        for i, frame in enumerate(frames[10:], start=10):
            send(i, frame)
        listed = [list(m.ids) for m in reader.lists]
        assert len(listed) == len(frames) and listed[-1] == [] and listed[0] != []
        fid = listed[0][0]
        assert fid[0].isalpha() and all(ids == [fid] for ids in listed[:10])
        # Every per-face topic delivers, with the source image's header.
        spin_until(executor, lambda: all(len(v) >= 5 for v in reader.messages[fid].values()), 10)
        got = reader.messages[fid]
        assert all(len(v) >= 5 for v in got.values()), {k: len(v) for k, v in got.items()}
        stamps = {m.header.stamp.sec for m in reader.lists[:10]}
        assert all(m.header.stamp.sec in stamps and m.header.frame_id == "camera" for v in got.values() for m in v)
        roi = got["roi"][0]
        assert 0 <= roi.xmin < roi.xmax <= 1 and 0 <= roi.ymin < roi.ymax <= 1
        cropped, aligned = image_to_array(got["cropped"][0]), image_to_array(got["aligned"][0])
        assert cropped.shape == (128, 128, 3) and aligned.shape == (128, 128)
        marks = got["landmarks"][0]
        points = marks.landmarks
        right, left = points[hri.FacialLandmarks.RIGHT_PUPIL], points[hri.FacialLandmarks.LEFT_PUPIL]
        assert right.c == left.c == 1.0 and right.x < left.x  # the subject's right eye is image-left
        assert roi.xmin < right.x < roi.xmax and roi.ymin < right.y < roi.ymax
        assert sum(p.c for p in marks.landmarks) == 2.0 and (marks.width, marks.height) == (640, 480)
        assert all(e.expression in EXPRESSIONS and 0 < e.confidence <= 1 for e in got["expression"])
        # Gone once the id is not listed.
        assert spin_until(executor, lambda: all(node.count_publishers(f"/humans/faces/{fid}/{name}") == 0
                                                for name in PER_FACE), 10)


def test_hri_without_hri_msgs_stops_with_a_clear_message():
    # Where hri_msgs is installed, a test double hides it from the node (as on a ROS install
    # without it): the import is made to fail instead of uninstalling it.
    script = ("import sys; sys.modules['hri_msgs'] = None; from fer_ros.nodes.emotion_node import main; "
              "sys.exit(main(['--ros-args', '-p', 'hri:=true']))")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "hri_msgs is not installed" in result.stderr and "hri:=false" in result.stderr


def test_cropped_face_is_scaled_into_the_square_centred_and_zero_padded():
    image = np.full((100, 200, 3), 255, np.uint8)
    out = fit_into_square(image, (50, 20, 80, 40), 128)  # 80x40 box: 128x64 inside 128x128
    assert out.shape == (128, 128, 3)
    assert (out[32:96] == 255).all() and (out[:32] == 0).all() and (out[96:] == 0).all()


@needs.hri_msgs
def test_per_face_publishers_are_made_and_destroyed_on_the_executors_thread():
    # rclpy entities belong to the thread that spins the node, not to the node's worker thread.
    import threading

    from rclpy.parameter import Parameter

    from fer_ros.nodes.emotion_node import EmotionNode

    threads: list[tuple[str, str]] = []
    with ros_node("hri_thread_probe") as (context, probe, executor):
        node = EmotionNode(context=context, namespace="/hri_threads", parameter_overrides=[
            Parameter("image_topic", value="/hri_threads/image"), Parameter("hri", value=True),
            Parameter("clip_model", value="none")])
        for name in ("create_publisher", "destroy_publisher"):
            original = getattr(node, name)

            def recorded(*args, _original=original, _name=name, **kwargs):
                topic = args[1] if _name == "create_publisher" else args[0].topic_name
                if topic.startswith("/humans/faces/f"):  # a face's own topics
                    threads.append((_name, threading.current_thread().name))
                return _original(*args, **kwargs)

            setattr(node, name, recorded)
        executor.add_node(node)
        try:
            images = probe.create_publisher(Image, "/hri_threads/image", qos_profile_sensor_data)
            lists: list = []
            probe.create_subscription(hri.IdsList, "/humans/faces/tracked", lists.append, 10)
            assert spin_until(executor, lambda: images.get_subscription_count() > 0, 30)
            frames = [face_frame(i / 30) for i in range(3)] + [np.full((480, 640, 3), 90, np.uint8)] * 2
            for i, frame in enumerate(frames):
                msg = array_to_image(frame, "bgr8")
                msg.header.stamp.sec = 10 + i
                resend_until(executor, images, msg, lambda s=10 + i: any(m.header.stamp.sec == s for m in lists))
            assert [len(m.ids) for m in lists[-2:]] == [0, 0] and lists[0].ids
        finally:
            node.destroy_node()
    made = [t for name, t in threads if name == "create_publisher"]
    destroyed = [t for name, t in threads if name == "destroy_publisher"]
    assert len(made) == 5 and len(destroyed) == 5  # one face's five topics
    assert set(made + destroyed) == {threading.main_thread().name}, threads
