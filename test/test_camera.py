"""The camera node: a missing camera is retried (log line, ERROR in /diagnostics) and comes back;
a video file that cannot be opened stops it with the reason; a video file waits, saying so, for
its reader: any reader, or in lockstep the emotion node answering on `results_topic`."""

import subprocess

from diagnostic_msgs.msg import DiagnosticArray
from fer_msgs.msg import FaceEmotionArray
from rclpy.parameter import Parameter
from rclpy.qos import qos_profile_sensor_data
from ros_helpers import ros_node, spin_until
from sensor_msgs.msg import Image

import fer_ros.nodes.camera_node as camera_node
from fer_ros.ros.video_source import open_capture
from fer_ros.sample_clip import SAMPLE_CLIP
from fer_training.harness.node_process import bin_path


def test_a_missing_camera_is_retried_with_an_error_in_diagnostics_and_comes_back(monkeypatch):
    # Test double for the device: no camera can be plugged in here, so the first three opening
    # attempts find none and the fourth finds one (the bundled clip stands in for its frames).
    attempts = []

    def plugged_in_later(source):
        attempts.append(source)
        return open_capture(str(SAMPLE_CLIP)) if len(attempts) > 3 else None

    monkeypatch.setattr(camera_node, "open_capture", plugged_in_later)
    with ros_node("fer_camera_probe") as (context, probe, executor):
        statuses, frames = [], []
        probe.create_subscription(DiagnosticArray, "/diagnostics", lambda m: statuses.extend(
            s for s in m.status if s.hardware_id == "/camera/camera"), 10)
        probe.create_subscription(Image, "/camera/image_raw", frames.append, qos_profile_sensor_data)
        camera = camera_node.CameraNode(context=context, namespace="camera", parameter_overrides=[
            Parameter("device", value=7), Parameter("retry_period", value=0.2),
            Parameter("diagnostics_period", value=0.1), Parameter("rate", value="30")])
        executor.add_node(camera)
        try:
            assert camera.problem == "cannot open camera 7"
            assert spin_until(executor, lambda: any(s.level == s.ERROR for s in statuses), 30)
            error = next(s for s in statuses if s.level == s.ERROR)
            assert error.message == "cannot open camera 7" and error.name.startswith("fer_ros: camera")
            assert spin_until(executor, lambda: len(frames) >= 5, 60), f"{len(frames)} frames after the retries"
            assert attempts == [7] * len(attempts) and len(attempts) == 4 and camera.problem == ""
            spin_until(executor, lambda: statuses[-1].level == statuses[-1].OK, 10)
            assert statuses[-1].level == statuses[-1].OK
        finally:
            executor.remove_node(camera)
            camera.destroy_node()


def test_a_video_file_that_cannot_be_opened_stops_the_node_with_the_reason(tmp_path):
    result = subprocess.run([bin_path("camera_node"), "--ros-args", "-p", f"video:={tmp_path / 'none.mp4'}"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "cannot open video file" in result.stderr


def test_a_video_file_not_in_lockstep_plays_for_any_reader_after_saying_what_it_waits_for():
    # No emotion node at all: rviz or `ros2 bag record` may be the only reader of a file.
    with ros_node("fer_video_reader") as (context, probe, executor):
        camera = camera_node.CameraNode(context=context, namespace="reader_cam", parameter_overrides=[
            Parameter("video", value=str(SAMPLE_CLIP)), Parameter("lockstep", value=False)])
        logged: list[str] = []
        camera.get_logger().info = lambda text, **kwargs: logged.append(text)  # what it says while it waits
        executor.add_node(camera)
        try:
            spin_until(executor, lambda: False, 0.5)
            assert camera.published == 0 and any("waiting until someone reads it" in line for line in logged)
            frames = []
            probe.create_subscription(Image, "/reader_cam/image_raw", frames.append, qos_profile_sensor_data)
            assert spin_until(executor, lambda: len(frames) >= 10, 30), f"{len(frames)} frames"
        finally:
            executor.remove_node(camera)
            camera.destroy_node()


def test_lockstep_waits_for_the_emotion_node_where_results_topic_says():
    # A namespaced emotion node: lockstep follows its results, not the default /fer/emotions.
    from fer_ros.nodes.emotion_node import EmotionNode

    with ros_node("fer_lockstep_probe") as (context, probe, executor):
        emotion = EmotionNode(context=context, namespace="/robot1", parameter_overrides=[
            Parameter("image_topic", value="/robot1_cam/image_raw"), Parameter("clip_model", value="none")])
        camera = camera_node.CameraNode(context=context, namespace="robot1_cam", parameter_overrides=[
            Parameter("video", value=str(SAMPLE_CLIP)), Parameter("results_topic", value="/robot1/emotions")])
        results = []
        probe.create_subscription(FaceEmotionArray, "/robot1/emotions", results.append, 100)
        executor.add_node(emotion)
        executor.add_node(camera)
        try:
            assert spin_until(executor, lambda: camera.finished, 120), f"{camera.published} frames sent"
            spin_until(executor, lambda: len(results) >= camera.published, 5)
            assert camera.published == 60 and camera.lost == 0 and len(results) == 60
        finally:
            for node in (camera, emotion):
                executor.remove_node(node)
                node.destroy_node()


def test_a_camera_stuck_in_a_read_blocks_neither_the_node_nor_its_stop(monkeypatch):
    # Test double for the device: a driver that never returns from a read cannot be made on
    # demand here, so the capture's read waits until the test ends.
    import threading
    import time

    release = threading.Event()

    class StuckCapture:
        def read(self):
            release.wait(30)
            return False, None

        def get(self, prop):
            return 30.0  # frames per second

        def release(self):
            pass

    monkeypatch.setattr(camera_node, "open_capture", lambda source: StuckCapture())
    with ros_node("fer_stuck_probe") as (context, probe, executor):
        statuses = []
        probe.create_subscription(DiagnosticArray, "/diagnostics", lambda m: statuses.extend(
            s for s in m.status if s.hardware_id == "/stuck/camera"), 10)
        camera = camera_node.CameraNode(context=context, namespace="stuck", parameter_overrides=[
            Parameter("device", value=3), Parameter("diagnostics_period", value=0.1), Parameter("rate", value="30")])
        executor.add_node(camera)
        try:
            # The executor keeps running the node's timers while its camera hangs.
            assert spin_until(executor, lambda: len(statuses) >= 5, 30), f"{len(statuses)} diagnostics"
            assert camera.published == 0
        finally:
            executor.remove_node(camera)
            started = time.monotonic()
            camera.destroy_node()
            took = time.monotonic() - started
            release.set()
    assert took < 6.0, f"destroy_node took {took:.1f} s"
