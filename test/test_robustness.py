"""Bad input over real DDS: every bad frame is counted by kind in /diagnostics, none stops the
node, and a good frame afterwards still gets a correct result. Also run-time parameters."""

import time
from array import array

import cv2
import numpy as np
import pytest
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from fer_msgs.msg import FaceEmotionArray
from rcl_interfaces.msg import Parameter as ParameterMsg
from rcl_interfaces.msg import ParameterType, ParameterValue
from rcl_interfaces.srv import SetParameters
from rclpy.executors import SingleThreadedExecutor
from rclpy.qos import qos_profile_sensor_data
from ros_helpers import resend_until, running, spin_until
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header

from fer_ros.ros.image_conversion import array_to_compressed, array_to_image
from fer_ros.sample_clip import face_frame

SEED = 7
RANDOM_FRAMES = 250


class Probe:
    """Publishes frames to one emotion node and reads its results and diagnostics."""

    def __init__(self, context, namespace: str, msg_type, topic: str):
        self.node = rclpy.create_node(f"probe_{namespace.strip('/')}", context=context)
        self.executor = SingleThreadedExecutor(context=context)
        self.executor.add_node(self.node)
        self.hardware_id = f"{namespace}/emotion"
        self.publisher = self.node.create_publisher(msg_type, topic, qos_profile_sensor_data)
        self.results: list[FaceEmotionArray] = []
        self.diagnostics: dict[str, str] = {}
        self.node.create_subscription(FaceEmotionArray, f"{namespace}/emotions", self.results.append, 100)
        self.node.create_subscription(DiagnosticArray, "/diagnostics", self._on_diagnostics, 100)
        self.stamp = int(time.time()) + 10_000

    def _on_diagnostics(self, msg: DiagnosticArray) -> None:
        for status in msg.status:
            if status.hardware_id == self.hardware_id:
                self.diagnostics = {kv.key: kv.value for kv in status.values}

    def counter(self, key: str) -> int:
        return int(self.diagnostics.get(key, 0))

    def accounted(self) -> int:
        return sum(self.counter(k) for k in ("frames_processed", "frames_dropped", "errors_total"))

    def header(self, seconds_back: int = 0) -> Header:
        self.stamp += 1
        return Header(frame_id="fuzz", stamp=rclpy.time.Time(seconds=self.stamp - seconds_back).to_msg())

    def send(self, msg) -> None:
        """Publish and wait until the node has accounted for it (resent if lost on the way)."""
        before = self.accounted()
        assert resend_until(self.executor, self.publisher, msg, lambda: self.accounted() > before), \
            f"the node never accounted for a frame ({self.diagnostics})"

    def __enter__(self) -> "Probe":
        return self

    def __exit__(self, *exc) -> None:
        self.executor.shutdown()
        self.node.destroy_node()


@pytest.fixture
def context():
    context = rclpy.Context()
    rclpy.init(context=context)
    yield context
    rclpy.shutdown(context=context)


def start(namespace: str, topic: str):
    return running("emotion_node", namespace, "-p", f"image_topic:={topic}", "-p", "diagnostics_period:=0.1")


def wait_ready(probe: Probe, process) -> None:
    assert spin_until(probe.executor, lambda: probe.publisher.get_subscription_count() > 0 and
                      probe.diagnostics, 90) and process.alive()


def image(pixels: np.ndarray, made_as: str, header: Header, **fields) -> Image:
    """A valid `made_as` message, then with `fields` overwritten."""
    msg = array_to_image(pixels, made_as, header)
    for key, value in fields.items():
        setattr(msg, key, value)
    return msg


def test_a_stream_that_goes_back_in_time_restarts_its_tracks_instead_of_being_refused(context):
    # A bag played again, or a simulation reset under use_sim_time: the stamps jump back.
    with start("/rewind", "/rewind/image_raw") as process, \
            Probe(context, "/rewind", Image, "/rewind/image_raw") as probe:
        wait_ready(probe, process)
        for i in range(4):
            probe.send(image(face_frame(i / 60), "bgr8", probe.header()))
        before = {f.track_id for r in probe.results for f in r.faces}
        probe.stamp -= 50  # the stream starts again
        for i in range(4):
            probe.send(image(face_frame(i / 60), "bgr8", probe.header()))
        after = probe.results[-4:]
        assert [len(r.faces) for r in after] == [1, 1, 1, 1] and len(before) == 1
        again = {f.track_id for r in after for f in r.faces}
        assert len(again) == 1 and again.isdisjoint(before)  # one new track, from the jump on
        assert probe.counter("stream_restarts") == 1 and probe.counter("errors_total") == 0


def test_bad_raw_images_are_counted_and_do_not_stop_the_node(context):
    with start("/fuzz_raw", "/fuzz/image_raw") as process, \
            Probe(context, "/fuzz_raw", Image, "/fuzz/image_raw") as probe:
        wait_ready(probe, process)
        px = np.zeros((8, 8, 3), np.uint8)
        bad = [
            image(px, "bgr8", probe.header(), encoding="yuv422"),
            image(np.zeros((8, 8), np.float32).view(np.uint8).reshape(8, 32), "mono8", probe.header(),
                  encoding="32FC1", width=8, step=32),
            image(px, "bgr8", probe.header(), step=5),
            image(px, "bgr8", probe.header(), data=array("B", bytes(20))),
            image(px, "bgr8", probe.header(), width=8000, height=8000, step=24000),
            image(np.zeros((0, 0, 3), np.uint8), "bgr8", probe.header()),
            image(np.zeros((1, 1), np.uint8), "mono8", probe.header()),
        ]
        for msg in bad:
            probe.send(msg)
        assert probe.counter("errors.ImageConversionError") == len(bad)
        # Unusual but valid: processed, with no face.
        probe.send(image(np.full((120, 160), 40000, np.uint16), "mono16", probe.header()))
        probe.send(image(np.full((120, 160, 4), 200, np.uint8), "rgba8", probe.header()))
        assert probe.counter("frames_processed") == 2 and all(not r.faces for r in probe.results)
        probe.send(image(px, "bgr8", probe.header(seconds_back=1)))  # the last frame's stamp again
        assert probe.counter("errors.OutOfOrderFrame") == 1
        rng = np.random.default_rng(SEED)
        for _ in range(RANDOM_FRAMES):  # random headers and bytes that never describe a valid image
            msg = Image(header=probe.header(), height=int(rng.integers(1, 64)), width=int(rng.integers(1, 64)),
                        encoding=str(rng.choice(["bgr8", "rgb8", "mono8", "bgra8", "mono16", "8UC3", "jpeg", ""])))
            msg.step = int(rng.integers(0, 64))
            msg.data = array("B", rng.bytes(int(rng.integers(0, max(1, msg.step * msg.height)))))
            probe.send(msg)
        errors = probe.counter("errors_total")
        assert errors == len(bad) + 1 + RANDOM_FRAMES
        assert errors == probe.counter("errors.ImageConversionError") + probe.counter("errors.OutOfOrderFrame")
        good = image(face_frame(0.0), "bgr8", probe.header())
        probe.send(good)
        answer = [r for r in probe.results if r.header.stamp == good.header.stamp]
        assert len(answer) == 1 and len(answer[0].faces) == 1 and answer[0].faces[0].label == "happy"
        assert process.alive()


def test_corrupt_compressed_images_are_counted(context):
    with start("/fuzz_jpeg", "/fuzz/image_raw/compressed") as process, \
            Probe(context, "/fuzz_jpeg", CompressedImage, "/fuzz/image_raw/compressed") as probe:
        wait_ready(probe, process)
        jpeg = array_to_compressed(face_frame(0.0), "jpeg")
        rng = np.random.default_rng(SEED)
        bad = [CompressedImage(header=probe.header(), format="jpeg", data=array("B", bytes(jpeg.data)[:500])),
               CompressedImage(header=probe.header(), format="png", data=array("B", b"\x89PNG\r\n\x1a\nbroken")),
               CompressedImage(header=probe.header(), format="jpeg")]
        bad += [CompressedImage(header=probe.header(), format="jpeg", data=array("B", rng.bytes(200)))
                for _ in range(20)]
        for msg in bad:
            probe.send(msg)
        assert probe.counter("errors.ImageConversionError") == len(bad)
        jpeg.header = probe.header()
        probe.send(jpeg)
        answer = [r for r in probe.results if r.header.stamp == jpeg.header.stamp]
        assert len(answer) == 1 and len(answer[0].faces) == 1


def set_parameter(node, executor, target: str, name: str, value: ParameterValue):
    client = node.create_client(SetParameters, f"{target}/set_parameters")
    assert client.wait_for_service(timeout_sec=30)
    future = client.call_async(SetParameters.Request(parameters=[ParameterMsg(name=name, value=value)]))
    assert spin_until(executor, future.done, 10)
    return future.result().results[0]


def answer_to(probe: Probe, msg: Image):
    """The node's result for `msg`, once it has arrived (diagnostics may count the frame first)."""
    probe.send(msg)
    assert spin_until(probe.executor, lambda: any(r.header.stamp == msg.header.stamp for r in probe.results), 10)
    return next(r for r in probe.results if r.header.stamp == msg.header.stamp)


def test_run_time_parameters_are_validated_and_applied(context):
    with start("/params", "/params/image_raw") as process, \
            Probe(context, "/params", Image, "/params/image_raw") as probe:
        wait_ready(probe, process)
        double = lambda v: ParameterValue(type=ParameterType.PARAMETER_DOUBLE, double_value=v)  # noqa: E731
        refused = set_parameter(probe.node, probe.executor, "/params/emotion", "confidence_threshold", double(1.5))
        # The range is in the parameter's descriptor (`ros2 param describe`): rclpy refuses with it.
        assert not refused.successful and "out of range" in refused.reason and "Max: 1.0" in refused.reason
        fixed = set_parameter(probe.node, probe.executor, "/params/emotion", "detector",
                              ParameterValue(type=ParameterType.PARAMETER_STRING, string_value="haar"))
        assert not fixed.successful
        # A blurred face the shipped model is unsure of (confidence 0.44 measured, 0.36-0.62 for
        # sigma 5-8; the sharp photo scores 1.0): labelled at the default threshold 0, "unknown"
        # above its confidence.
        unsure = cv2.GaussianBlur(face_frame(0.0), (0, 0), 6)
        labelled = answer_to(probe, image(unsure, "bgr8", probe.header())).faces[0]
        assert labelled.label != "unknown" and labelled.confidence < 0.9
        accepted = set_parameter(probe.node, probe.executor, "/params/emotion", "confidence_threshold", double(0.99))
        assert accepted.successful
        face = answer_to(probe, image(unsure, "bgr8", probe.header())).faces[0]
        assert face.label == "unknown" and face.confidence < 0.99 and abs(sum(face.scores) - 1) < 1e-3


def burst_frame(rng: np.random.Generator, header: Header) -> Image:
    """One frame of a garbage burst: valid noise of a random size (1-800 px wide) and encoding,
    or a message that is short, padded, of an unknown encoding or of an absurd size."""
    width, height = int(rng.integers(1, 801)), int(rng.integers(1, 601))
    encoding = str(rng.choice(["bgr8", "rgb8", "mono8", "bgra8", "rgba8", "mono16"]))
    channels, dtype = {"bgr8": (3, np.uint8), "rgb8": (3, np.uint8), "mono8": (1, np.uint8), "bgra8": (4, np.uint8),
                       "rgba8": (4, np.uint8), "mono16": (1, np.uint16)}[encoding]
    info = np.iinfo(dtype)
    shape = (height, width, channels) if channels > 1 else (height, width)
    msg = image(rng.integers(0, info.max, shape, dtype=dtype, endpoint=True), encoding, header)
    fault = rng.integers(0, 6)  # 0-1: valid noise
    if fault == 2:
        msg.data = msg.data[: len(msg.data) // 2]
    elif fault == 3:
        msg.step += 3
    elif fault == 4:
        msg.encoding = "yuv422_yuy2"
    elif fault == 5:
        msg.width, msg.height = 100_000, 100_000
    return msg


def test_a_burst_of_garbage_leaves_no_state_that_hides_the_next_face(context):
    # A few hundred frames of assorted sizes and encodings; then, 100 times, a thin frame of
    # noise (YuNet used to answer some with a face scored 1.0, a box that steered the next
    # frame's search) followed by a good 640x480 frame with a frontal face: the node must find
    # the face in that very frame.
    with start("/burst", "/burst/image_raw") as process, Probe(context, "/burst", Image, "/burst/image_raw") as probe:
        wait_ready(probe, process)
        rng = np.random.default_rng(SEED)
        for _ in range(300):
            probe.publisher.publish(burst_frame(rng, probe.header()))
            spin_until(probe.executor, lambda: False, 0.002)
        good = face_frame(0.0)
        for _ in range(100):
            thin = rng.integers(0, 256, (int(rng.integers(20, 40)), int(rng.integers(400, 801)), 3), dtype=np.uint8)
            # No face in noise (unpadded, YuNet found one in about 3 % of such frames), ...
            assert answer_to(probe, image(thin, "bgr8", probe.header())).faces == []
            faces = answer_to(probe, image(good, "bgr8", probe.header())).faces  # ... and the face found
            assert len(faces) == 1 and faces[0].box.width > 50, faces
        assert process.alive()
