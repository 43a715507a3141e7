"""The shared-memory Fast DDS profile: set by the runner, and 640x480 frames at 30 Hz arrive."""

import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

import pytest
from rclpy.qos import qos_profile_sensor_data
from ros_helpers import ros_node, spin_until
from sensor_msgs.msg import Image
from std_msgs.msg import Empty

from fer_ros.ros.graph import FASTDDS_PROFILE, config_dir

FRAMES = 90
PUBLISHER = f"""
import sys, time
import numpy as np, rclpy
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image
from std_msgs.msg import Empty
from fer_ros.ros.image_conversion import array_to_image
rclpy.init()
node = rclpy.create_node("stream_30hz")
pub = node.create_publisher(Image, "/transport_test/image", qos_profile_sensor_data)
ready, done = [], []
node.create_subscription(Empty, "/transport_test/ready", ready.append, 10)
node.create_subscription(Empty, "/transport_test/done", done.append, 10)
frame = np.random.default_rng(0).integers(0, 255, (480, 640, 3), dtype=np.uint8)
warmup = array_to_image(frame, "bgr8")
warmup.header.frame_id = "warm-up"
deadline = time.monotonic() + 60
while not ready and time.monotonic() < deadline:  # until the receiver says a frame reached it
    pub.publish(warmup)
    rclpy.spin_once(node, timeout_sec=0.05)
start = time.monotonic()
for i in range({FRAMES}):
    time.sleep(max(0.0, start + i / 30.0 - time.monotonic()))
    msg = array_to_image(frame, "bgr8")
    msg.header.frame_id = str(i)
    pub.publish(msg)
deadline = time.monotonic() + 10
while not done and time.monotonic() < deadline:  # stay until the receiver has the last frame
    rclpy.spin_once(node, timeout_sec=0.05)
node.destroy_node()
rclpy.shutdown()
"""


@pytest.mark.parametrize("distro, variable", [
    ("kilted", "FASTDDS_DEFAULT_PROFILES_FILE"), ("", "FASTDDS_DEFAULT_PROFILES_FILE"),
    ("jazzy", "FASTRTPS_DEFAULT_PROFILES_FILE"), ("humble", "FASTRTPS_DEFAULT_PROFILES_FILE")])
def test_runner_environment_points_at_the_shipped_profile_by_the_one_name_the_distro_reads(distro, variable):
    env = {k: v for k, v in os.environ.items() if "PROFILES_FILE" not in k} | {"ROS_DISTRO": distro}
    script = ("import os; from fer_ros.ros.graph import use_shared_memory_profile; use_shared_memory_profile(); "
              "print(sorted((k, v) for k, v in os.environ.items() if 'PROFILES_FILE' in k))")
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    profile = config_dir() / FASTDDS_PROFILE
    assert out.stdout.strip() == str([(variable, str(profile))])  # one name: no deprecation warning on Kilted
    ns = {"f": "http://www.eprosima.com/XMLSchemas/fastRTPS_Profiles"}
    segment = ET.parse(profile).getroot().find(".//f:transport_descriptor[f:type='SHM']/f:segment_size", ns)
    assert int(segment.text) >= 640 * 480 * 3 * 4


def test_640x480_stream_at_30hz_arrives_without_loss():
    assert os.environ["FASTDDS_DEFAULT_PROFILES_FILE"].endswith(FASTDDS_PROFILE)  # set by conftest
    received: list[str] = []
    with ros_node("stream_receiver") as (_, node, executor):
        ready = node.create_publisher(Empty, "/transport_test/ready", 10)
        done = node.create_publisher(Empty, "/transport_test/done", 10)

        def on_frame(msg: Image) -> None:
            if msg.header.frame_id == "warm-up":  # the stream reaches us: tell the publisher to start
                ready.publish(Empty())
                return
            received.append(msg.header.frame_id)
            if msg.header.frame_id == str(FRAMES - 1):
                done.publish(Empty())

        node.create_subscription(Image, "/transport_test/image", on_frame, qos_profile_sensor_data)
        publisher = subprocess.Popen([sys.executable, "-c", PUBLISHER], env=dict(os.environ))
        try:
            start = time.monotonic()
            spin_until(executor, lambda: len(received) >= FRAMES or publisher.poll() is not None, 120)
            spin_until(executor, lambda: len(received) >= FRAMES, 2.0)
        finally:
            publisher.wait(timeout=60)
    assert publisher.returncode == 0
    assert received == [str(i) for i in range(FRAMES)], f"{len(received)} of {FRAMES} frames in " \
        f"{time.monotonic() - start:.1f} s"
