"""Faults inside the node (not bad input): a step after a frame's processing raises, and the
worker goes on with the next frame, counts the fault by kind, logs its traceback, and turns
/diagnostics to ERROR while every frame fails. fer-run exits non-zero when a node raised.

The faults are injected (a publisher or the drawing step replaced by one that raises): a
real fault of this kind cannot be provoked from outside the process. Everything else is real:
the node, DDS, the messages."""

import time

import pytest
import rclpy
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from fer_msgs.msg import FaceEmotionArray
from rclpy.parameter import Parameter
from rclpy.qos import qos_profile_sensor_data
from ros_helpers import resend_until, ros_node, spin_until
from sensor_msgs.msg import Image

import fer_ros.nodes.emotion_node as emotion_module
from fer_ros.ros.image_conversion import array_to_image
from fer_ros.sample_clip import SAMPLE_CLIP, face_frame


class InjectedFault(RuntimeError):
    """Raised by the step a test breaks on purpose."""


@pytest.fixture
def rig():
    """An emotion node and a probe in one context, spun here; the node's worker runs apart."""
    with ros_node("fault_probe") as (context, probe, executor):
        node = emotion_module.EmotionNode(context=context, namespace="/faults", parameter_overrides=[
            Parameter("image_topic", value="/faults/image_raw"), Parameter("diagnostics_period", value=0.2),
            Parameter("clip_model", value="none")])
        executor.add_node(node)
        publisher = probe.create_publisher(Image, "/faults/image_raw", qos_profile_sensor_data)
        results: list[FaceEmotionArray] = []
        statuses: list[DiagnosticStatus] = []
        probe.create_subscription(FaceEmotionArray, "/faults/emotions", results.append, 100)
        probe.create_subscription(DiagnosticArray, "/diagnostics", lambda m: statuses.extend(
            s for s in m.status if s.hardware_id == "/faults/emotion"), 100)
        assert spin_until(executor, lambda: publisher.get_subscription_count() > 0, 30)
        try:
            yield node, executor, publisher, results, statuses
        finally:
            node.destroy_node()


def send_until(executor, publisher, node, count_before: int, stamp: int) -> None:
    """Publish one frame (resent if best effort lost it) until the node has accounted for it."""
    msg = array_to_image(face_frame(stamp / 60), "bgr8")
    msg.header.stamp.sec = 1_000 + stamp

    def accounted() -> int:
        return node.stats.processed + sum(node.stats.errors.values())

    assert resend_until(executor, publisher, msg, lambda: accounted() > count_before, 5.0), \
        "the node never took the frame"


def test_a_drawing_step_that_raises_does_not_stop_the_answers(rig, monkeypatch):
    node, executor, publisher, results, _ = rig
    calls = []

    def broken_drawing(*args):
        calls.append(1)
        raise InjectedFault("drawing broke")

    monkeypatch.setattr(emotion_module, "draw_results", broken_drawing)
    # Someone watches the annotated image, so every frame is drawn after its result is published.
    with ros_node("viewer") as (_, viewer, viewer_executor):
        viewer.create_subscription(Image, "/faults/image_annotated", lambda m: None, 1)
        assert spin_until(executor, lambda: node.annotated.get_subscription_count() > 0, 30)
        for i in range(5):
            send_until(executor, publisher, node, node.stats.processed + sum(node.stats.errors.values()), i)
    assert len(calls) == 5  # the positive control: the broken step ran for every frame
    assert spin_until(executor, lambda: len(results) == 5, 5.0)
    assert all(len(r.faces) == 1 for r in results)
    assert node.stats.errors["InjectedFault"] == 5
    # The worker lives on: the next frame is answered too.
    send_until(executor, publisher, node, node.stats.processed + sum(node.stats.errors.values()), 5)
    assert spin_until(executor, lambda: len(results) == 6, 5.0)


def test_a_publisher_that_raises_turns_diagnostics_to_error_until_frames_succeed(rig, monkeypatch):
    node, executor, publisher, results, statuses = rig
    real_publish = node.publisher.publish

    def broken_publish(msg):
        raise InjectedFault("publisher broke")

    monkeypatch.setattr(node.publisher, "publish", broken_publish)
    for i in range(3):
        send_until(executor, publisher, node, sum(node.stats.errors.values()), i)
    assert node.stats.errors["InjectedFault"] == 3 and results == []
    # Keep failing until a diagnostics period has seen only failures: ERROR.
    deadline, i = time.monotonic() + 30, 3
    while not any(s.level == DiagnosticStatus.ERROR for s in statuses) and time.monotonic() < deadline:
        send_until(executor, publisher, node, sum(node.stats.errors.values()), i)
        i += 1
    error = next(s for s in statuses if s.level == DiagnosticStatus.ERROR)
    assert "failed" in error.message
    assert {kv.key: kv.value for kv in error.values}["errors.InjectedFault"].isdigit()
    monkeypatch.setattr(node.publisher, "publish", real_publish)
    statuses.clear()
    send_until(executor, publisher, node, node.stats.processed, i + 1)
    assert spin_until(executor, lambda: len(results) == 1, 5.0)
    assert spin_until(executor, lambda: any(s.level == DiagnosticStatus.WARN for s in statuses), 5.0)


def test_fer_run_exits_non_zero_when_a_node_raised(monkeypatch, capsys):
    import fer_ros.run as run_module

    def broken_result(self, msg):
        raise InjectedFault("listener broke")

    monkeypatch.setattr(run_module.ResultListener, "on_result", broken_result)
    code = run_module.main(["--video", str(SAMPLE_CLIP), "--frames", "5"])
    assert code == 1
    assert "InjectedFault: listener broke" in capsys.readouterr().err
    assert not rclpy.ok()  # the default context is shut down again
