"""Helpers for tests that run real nodes over DDS (domain and loopback set in conftest.py)."""

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from rclpy.executors import SingleThreadedExecutor

ROOT = Path(__file__).resolve().parents[1]
PARAMS = ROOT / "config" / "webcam.yaml"


def executable(name: str) -> str:
    """A console script of this venv (installed by `make setup`)."""
    return str(Path(sys.executable).parent / name)


def start_node_process(name: str, namespace: str, *ros_args: str) -> subprocess.Popen:
    """A node executable in its own process, with the whole environment (the ROS wheels
    need LD_LIBRARY_PATH, which their bootstrap sets)."""
    cmd = [executable(name), "--ros-args", "--params-file", str(PARAMS), "-r", f"__ns:={namespace}",
           *ros_args]
    return subprocess.Popen(cmd, env=dict(os.environ), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)


def spin_until(executor: SingleThreadedExecutor, done: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if done():
            return True
        executor.spin_once(timeout_sec=0.05)
    return done()
