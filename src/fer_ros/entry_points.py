"""Console-script entry points of the nodes and fer-run.

SIGTERM (what `ros2 launch` escalates to, and what systemd and docker send) is turned into the
clean stop that Ctrl-C gives before the node's module is imported (rclpy, OpenCV and LiteRT
take about a second), so that a stop during start-up also ends with exit code 0.
"""

import signal
from importlib import import_module


def stop_on_sigterm() -> None:
    """SIGTERM raises KeyboardInterrupt in the main thread, as Ctrl-C does. rclpy's own SIGTERM
    handler only shuts the context down, which an executor already waiting in `rcl_wait` may
    never notice (`node_main.spin_until_shutdown` wakes up to see it)."""
    signal.signal(signal.SIGTERM, _interrupt)


_stop_requested = False


def stop_requested() -> bool:
    """True once SIGTERM came: an error raised after it (a C extension's import interrupted
    half-way says `ImportError: initialization failed`) is part of the stop, not a fault."""
    return _stop_requested


def _interrupt(signum: int, frame) -> None:
    global _stop_requested
    _stop_requested = True
    raise KeyboardInterrupt(f"signal {signum}")


def _run(target: str) -> int:
    stop_on_sigterm()
    module, function = target.split(":")
    try:
        return getattr(import_module(module), function)()
    except KeyboardInterrupt:  # before the node's own main() could take it
        return 0
    except Exception:
        if stop_requested():
            return 0
        raise


def camera_node() -> int:
    return _run("fer_ros.camera_node:main")


def emotion_node() -> int:
    return _run("fer_ros.emotion_node:main")


def emotion_reactions() -> int:
    return _run("fer_ros.emotion_reactions:main")


def fer_run() -> int:
    return _run("fer_ros.run:main")
