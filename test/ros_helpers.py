"""Helpers for tests that run real nodes over DDS (domain and loopback set in conftest.py)."""

import os
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import rclpy
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


@contextmanager
def ros_node(name: str):
    """(context, node, executor) of a node in a context of its own, torn down afterwards."""
    context = rclpy.Context()
    rclpy.init(context=context)
    node = rclpy.create_node(name, context=context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    try:
        yield context, node, executor
    finally:
        executor.shutdown()
        node.destroy_node()
        rclpy.shutdown(context=context)
