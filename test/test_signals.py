"""Every node and fer-run ends on SIGTERM (what `ros2 launch` escalates to, and what systemd and
docker send) within a few seconds with exit code 0, whenever it comes, and a second signal 0.1 s
later (a terminal's Ctrl-C beside launch's) changes nothing: 21 start/stop cycles each, a third
at a random moment of the start (imports, model loading: from the moment its SIGTERM handler is
installed; before, Python has not run a line of ours and the kernel's default ends it with
-15, which on a busy machine took over 1.5 s once), a third at a random moment after the
ready line, and a third once it has done work (the emotion node and fer-run classifying frames,
the camera node playing a video to a reader). Ctrl-C alone is covered by the launch tests."""

import random
import signal
import threading
import time

import needs
import pytest
import rclpy
from fer_msgs.msg import FaceEmotionArray
from rclpy.executors import SingleThreadedExecutor
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image

from fer_ros.ros.image_conversion import array_to_image
from fer_ros.sample_clip import SAMPLE_CLIP, face_frame
from fer_training.harness.node_process import NodeProcess, start_node

CYCLES = 21
ENDS_WITHIN_S = 5.0
FEED = "/sigterm_feed/image_raw"  # face frames the test sends to the emotion node
CAMERA_NS = "/sigterm_camera"


class Traffic:
    """A node of the test's own, spun in a thread: sends face frames at 30 Hz to the emotion
    node's topic and counts what comes back (results, the camera node's images)."""

    def __init__(self):
        self.context = rclpy.Context()
        rclpy.init(context=self.context)
        self.node = rclpy.create_node("sigterm_traffic", context=self.context)
        self.received: dict[str, float] = {}  # topic -> when its last message came
        self.node.create_subscription(FaceEmotionArray, "/sigterm_fer/emotions",
                                      lambda m: self._got("results"), 10)
        self.node.create_subscription(Image, f"{CAMERA_NS}/image_raw", lambda m: self._got("images"),
                                      qos_profile_sensor_data)
        images = self.node.create_publisher(Image, FEED, qos_profile_sensor_data)
        frames = [array_to_image(face_frame(i / 30), "bgr8") for i in range(30)]
        counter = iter(range(10**9))

        def send() -> None:
            msg = frames[next(counter) % len(frames)]
            msg.header.stamp = self.node.get_clock().now().to_msg()
            images.publish(msg)

        self.node.create_timer(1 / 30, send)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self.thread = threading.Thread(target=self.executor.spin, daemon=True)
        self.thread.start()

    def _got(self, what: str) -> None:
        self.received[what] = time.monotonic()

    def seen_since(self, what: str, since: float, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.received.get(what, 0.0) > since:
                return True
            time.sleep(0.02)
        return False

    def close(self) -> None:
        self.executor.shutdown()
        self.thread.join(timeout=5)
        self.node.destroy_node()
        rclpy.shutdown(context=self.context)


@pytest.fixture(scope="module")
def traffic():
    t = Traffic()
    yield t
    t.close()


# (how to start it, the line it prints once ready, what shows it working: a topic Traffic counts, or a line)
PROGRAMS = {
    "camera_node": (lambda: start_node("camera_node", "-r", f"__ns:={CAMERA_NS}", "-p", f"video:={SAMPLE_CLIP}",
                                       "-p", "lockstep:=false", "-p", "loop:=true"), "publishing video", "images"),
    "emotion_node": (lambda: start_node("emotion_node", "-r", "__ns:=/sigterm_fer", "-p", f"image_topic:={FEED}"),
                     "listening on", "results"),
    "emotion_reactions": (lambda: start_node("emotion_reactions", "-r", "__ns:=/sigterm_fer"), "reacting to", None),
    "fer-run": (lambda: NodeProcess(["fer-run", "--video", str(SAMPLE_CLIP)]), "[fer-run] source", "face(s) #"),
    # Answering faces is covered by test_hri_expression.py; here it starts, loads and listens.
    "hri_expression": (lambda: start_node("hri_expression", "-r", "__ns:=/sigterm_hri", "-p", "managed:=false"),
                       "listening on", None),
}


def test_executors_shut_down_under_a_running_spin_are_no_node_failure():
    """fer-run's and fer-eval-bag's threads (`spinning_in_threads`) are stopped by shutting their
    executors down, maybe while a thread is inside spin(): rclpy then raises InvalidHandle from the
    executor's own guard condition in that thread, which was reported as the node's failure (fer-run
    exit 1 after SIGTERM, 1 stop in 300 of this loop here, once in this file's test above). Busy
    timers and random stop moments make the race likely."""
    from fer_ros.ros.node_main import NodeFailed, spinning_in_threads

    rng = random.Random(7)
    rclpy.init()
    failed = 0
    try:
        for cycle in range(600):
            nodes = [rclpy.create_node(f"spin_end_{cycle}_{k}") for k in range(2)]
            for node in nodes:
                node.create_timer(0.0005, lambda: None)
            try:
                with spinning_in_threads(nodes):
                    time.sleep(rng.uniform(0.0, 0.02))
            except NodeFailed:
                failed += 1
            finally:
                for node in nodes:
                    node.destroy_node()
    finally:
        rclpy.shutdown()
    assert failed == 0


@pytest.mark.parametrize("program", [pytest.param(p, marks=needs.hri_msgs) if p == "hri_expression" else p
                                     for p in PROGRAMS])
def test_sigterm_then_a_second_signal_end_it_cleanly_at_any_moment(program, traffic):
    start, ready_line, working = PROGRAMS[program]
    rng = random.Random(program)
    failures = []
    for cycle in range(CYCLES):
        started = time.monotonic()
        process = start()
        moment = cycle % 3 if working else min(cycle % 3, 1)
        if moment == 0:  # during start-up, from when its handler is installed
            assert process.catches_sigterm(60), process.output[-3000:]
            time.sleep(rng.uniform(0.05, 1.5))
        else:
            assert process.wait_for(ready_line, 120), process.output[-3000:]
            if moment == 2:  # while it works
                shown = (process.wait_for(working, 60) if working.startswith("face")
                         else traffic.seen_since(working, started, 60))
                assert shown, f"cycle {cycle}: no sign of work ({working})\n{process.output[-3000:]}"
            time.sleep(rng.uniform(0.0, 0.5))
        stopped = time.monotonic()
        second = rng.choice([signal.SIGINT, signal.SIGTERM])
        code = process.stop(timeout=ENDS_WITHIN_S, second_signal=second, after=0.1)
        if code != 0:
            failures.append(f"cycle {cycle} ({['start-up', 'ready', 'working'][moment]}, then "
                            f"{second.name}): exit {code} ({'killed' if code is None else 'code'}) "
                            f"{time.monotonic() - stopped:.1f} s after SIGTERM\n{process.output[-1500:]}")
    assert not failures, "\n".join(failures)
