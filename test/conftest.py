"""Test set-up: ROS traffic on loopback only, in a domain of this run's own."""

import os
import tempfile

# Set before any test imports rclpy: DDS reads these when the first context starts.
os.environ["ROS_DOMAIN_ID"] = str(10 + os.getpid() % 90)
os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
os.environ.setdefault("ROS_LOG_DIR", tempfile.mkdtemp(prefix="fer_ros_log_"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from fer_ros.graph import use_shared_memory_profile  # noqa: E402

use_shared_memory_profile()
