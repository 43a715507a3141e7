"""Test set-up: ROS traffic on loopback only, in a domain of this run's own."""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

# Set before any test imports rclpy: DDS reads these when the first context starts.
os.environ["ROS_DOMAIN_ID"] = str(10 + os.getpid() % 90)
os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
os.environ.setdefault("ROS_LOG_DIR", tempfile.mkdtemp(prefix="fer_ros_log_"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from needs import ROS2_TOOLS_MISSING  # noqa: E402

from fer_ros.ros.graph import use_shared_memory_profile  # noqa: E402

use_shared_memory_profile()


@pytest.fixture(scope="session")
def workspace(tmp_path_factory) -> Path:
    """A colcon workspace with this package built on top of the venv, which ../shared/ros2cli
    makes act as /opt/ros/kilted (built once per test run: the ros2 tools and the network test use it)."""
    if not (Path(sys.prefix) / "setup.bash").is_file():
        pytest.skip(ROS2_TOOLS_MISSING)
    root = Path(__file__).resolve().parents[1]
    ws = tmp_path_factory.mktemp("fer_ws")
    build = subprocess.run(
        ["bash", "-c", f". {sys.prefix}/setup.bash && cd {ws} && colcon --log-base {ws}/log build "
                       f"--base-paths {root} {root}/fer_msgs --build-base {ws}/build --install-base {ws}/install"],
        capture_output=True, text=True, timeout=900)
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    return ws
