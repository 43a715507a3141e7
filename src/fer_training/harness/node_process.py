"""A node executable of this environment in a process of its own: started with the launch
file's parameters file, its output collected by a thread, its readiness line awaited with a
timeout, and stopped with SIGTERM (as `ros2 launch`, systemd and docker stop it). The tests,
the benchmark and the two-host harness all start their nodes through it.
"""

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from fer_ros.ros.graph import EMOTION, PARAMS_FILE, config_dir

EMOTION_READY_LINE = "listening on"  # the emotion node's: models loaded, subscribed


def bin_path(name: str) -> str:
    """A console script of the running environment (a venv's bin/), by name."""
    return str(Path(sys.executable).parent / name)


class NodeProcess:
    """A console script of this environment (`argv[0]`, by name) with the whole environment (the
    ROS wheels need LD_LIBRARY_PATH, which their bootstrap sets). `prefix` runs it elsewhere
    (`ip netns exec NAME`)."""

    def __init__(self, argv: list[str], prefix: tuple[str, ...] = (), env: dict | None = None):
        argv = [*prefix, bin_path(argv[0]), *argv[1:]]
        self.process = subprocess.Popen(argv, env=env or dict(os.environ), stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, text=True)
        self.pid = self.process.pid
        self._lines: list[str] = []
        self._ended = False
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            with self._changed:
                self._lines.append(line)
                self._changed.notify_all()
        with self._changed:
            self._ended = True
            self._changed.notify_all()

    @property
    def output(self) -> str:
        with self._changed:
            return "".join(self._lines)

    def wait_for(self, text: str, timeout: float) -> bool:
        """True once a line holding `text` was printed; False after `timeout` s, or as soon as
        the process ended without printing it."""
        def seen() -> bool:
            return any(text in line for line in self._lines)

        with self._changed:
            self._changed.wait_for(lambda: seen() or self._ended, timeout)
            return seen()

    def alive(self) -> bool:
        return self.process.poll() is None

    def catches_sigterm(self, timeout: float) -> bool:
        """True once the process has its own SIGTERM handler (SigCgt in /proc/PID/status).
        Before that no line of ours has run and the kernel's default ends it (exit -15); on a
        busy machine the interpreter's own start can take seconds."""
        deadline = time.monotonic() + timeout
        while self.alive() and time.monotonic() < deadline:
            try:
                status = Path(f"/proc/{self.pid}/status").read_text()
            except OSError:
                return False
            caught = re.search(r"^SigCgt:\s*([0-9a-f]+)$", status, re.M)
            if caught and int(caught.group(1), 16) >> (signal.SIGTERM - 1) & 1:
                return True
            time.sleep(0.01)
        return False

    def stop(self, timeout: float = 10.0, second_signal: int | None = None, after: float = 0.1) -> int | None:
        """SIGTERM (and `second_signal` `after` s later, as when a terminal's Ctrl-C and launch's
        own signal both arrive), then wait up to `timeout` s: the exit code, or None when it had
        to be killed."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        if second_signal is not None:
            time.sleep(after)
            if self.process.poll() is None:
                self.process.send_signal(second_signal)
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            code = None
        self._reader.join(timeout=5.0)
        return code


def start_node(executable: str, *ros_args: str, prefix: tuple[str, ...] = (), env: dict | None = None
               ) -> NodeProcess:
    """A node executable with the launch file's parameters file, then `ros_args`."""
    return NodeProcess([executable, "--ros-args", "--params-file", str(config_dir() / PARAMS_FILE), *ros_args],
                       prefix, env)


def start_emotion_node(*ros_args: str, namespace: str = f"/{EMOTION.namespace}", prefix: tuple[str, ...] = (),
                       env: dict | None = None) -> NodeProcess:
    """The emotion node as the launch file starts it (namespace, parameters file), plus `ros_args`."""
    return start_node(EMOTION.executable, "-r", f"__ns:={namespace}", *ros_args, prefix=prefix, env=env)
