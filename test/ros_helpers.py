"""Helpers for tests that run real nodes over DDS (domain and loopback set in conftest.py)."""

import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import rclpy
import yaml
from rclpy.executors import SingleThreadedExecutor

from fer_ros.ros.node_main import wait_until
from fer_training.harness.node_process import NodeProcess, start_node

ROOT = Path(__file__).resolve().parents[1]
PARAMS = ROOT / "config" / "webcam.yaml"


@contextmanager
def running(executable: str, namespace: str, *ros_args: str) -> Iterator[NodeProcess]:
    """A node in a process of its own for the block (the launch file's parameters file); on
    leaving, SIGTERM: it must end with exit code 0 within 10 s (it is killed otherwise, and the
    test fails)."""
    process = start_node(executable, "-r", f"__ns:={namespace}", *ros_args)
    try:
        yield process
    finally:
        code = process.stop()
    assert code == 0, f"{executable} ended with {code} on SIGTERM (None: killed)\n{process.output[-3000:]}"


def spin_until(executor: SingleThreadedExecutor, done: Callable[[], bool], timeout: float) -> bool:
    return wait_until(done, timeout, lambda: executor.spin_once(timeout_sec=0.05))


def resend_until(executor: SingleThreadedExecutor, publisher, msg, answered: Callable[[], bool],
                 wait: float = 3.0, tries: int = 5) -> bool:
    """Best effort may lose a message: publish `msg` again until `answered()` holds, spinning
    up to `wait` s after each of at most `tries` sends; True if it was answered."""
    for _ in range(tries):
        publisher.publish(msg)
        if spin_until(executor, answered, wait):
            return True
    return False


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


def in_workspace(workspace: Path, command: str, background: bool = False, host: list[str] | None = None,
                 **kwargs) -> subprocess.CompletedProcess | subprocess.Popen:
    """`command` run by bash after `. install/setup.bash` (which also sources the venv's); in
    the background, as a terminal starts a foreground job: in a process group of its own, with
    Ctrl-C's signal at its default (a test run started in the background by a script inherits
    SIGINT ignored, and Python then keeps ignoring it). `host`: a prefix that runs it on
    another host (`ip netns exec NAME`)."""
    argv = [*(host or []), "bash", "-c", f". {workspace}/install/setup.bash && exec {command}"]
    if background:
        return subprocess.Popen(argv, start_new_session=True, preexec_fn=_default_sigint, **kwargs)
    return subprocess.run(argv, capture_output=True, text=True, **kwargs)


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGQUIT, signal.SIG_DFL)


def echo_once(workspace: Path, topic: str, kind: str, extra: str = "", timeout: float = 180, **kwargs) -> dict:
    """The message `ros2 topic echo --once` printed (YAML, ended by a line '---'). A crash of the
    tool shows its Python stack (PYTHONFAULTHANDLER)."""
    result = in_workspace(workspace, f"env PYTHONFAULTHANDLER=1 ros2 topic echo --once --no-daemon {extra} {topic} "
                                     f"{kind}", timeout=timeout, **kwargs)
    assert result.returncode == 0, f"{topic}: exit {result.returncode}\n{result.stdout[-1500:]}{result.stderr[-1500:]}"
    return yaml.safe_load(result.stdout.split("\n---")[0])


def wait_for_line(log_path: Path, text: str, count: int, timeout: float) -> bool:
    """True once `text` appears `count` times in the log a process writes (its own readiness line)."""
    return wait_until(lambda: log_path.read_text().count(text) >= count, timeout, lambda: time.sleep(0.05))


def ctrl_c(launch: subprocess.Popen, log_path: Path) -> str:
    """SIGINT to the launch's process group, as Ctrl-C in its terminal: everything must end,
    exit code 0, within 10 s. Returns the launch's output."""
    group = os.getpgid(launch.pid)
    started = time.monotonic()
    os.killpg(group, signal.SIGINT)
    try:
        code = launch.wait(timeout=30)
    except subprocess.TimeoutExpired:
        code = None
    ended_after = time.monotonic() - started
    left = _processes_in_group(group)
    if left:
        os.killpg(group, signal.SIGKILL)
    output = log_path.read_text()
    assert code == 0 and ended_after < 10, f"exit {code} after {ended_after:.1f} s\n{output[-3000:]}"
    assert left == [], f"still running after Ctrl-C: {left}"
    return output


def _processes_in_group(group: int) -> list[str]:
    left = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == group and fields[0] != "Z":
            left.append((stat.parent / "cmdline").read_text().replace("\0", " ").strip())
    return left
