"""Console-script entry points of the nodes and fer-run, and the one signal path they share.

SIGINT (Ctrl-C) and SIGTERM (what `ros2 launch` escalates to, and what systemd and docker send)
are one stop request. During start-up it raises KeyboardInterrupt in the main thread: the handler
is installed before the node's module is imported (rclpy, OpenCV and LiteRT take about a second),
so a stop while the node starts also ends with exit code 0. Once the node spins
(`stops_polled`), a signal only sets `stop_requested()`, which the spin loop polls: raised inside
rclpy (a message being converted), KeyboardInterrupt would come out as another exception. A
second signal (a terminal's Ctrl-C followed by launch's SIGINT, or SIGINT then SIGTERM) changes
nothing. rclpy installs no handler of its own (`node_main.run_nodes`); the main thread waits in
rcl at most `node_main.WAKE_PERIOD_S` at a time, so the handler runs within that.
"""

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import import_module

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_stop_requested = False
_raise_on_stop = True


def stop_requested() -> bool:
    """True once SIGINT or SIGTERM came in this run: an error raised by a C extension's start-up
    that the signal interrupted (`ImportError: initialization failed`) is part of the stop."""
    return _stop_requested


def _interrupt(signum: int, frame) -> None:
    global _stop_requested
    if _stop_requested:
        return  # already stopping: a second signal must not interrupt the teardown
    _stop_requested = True
    if _raise_on_stop:
        raise KeyboardInterrupt(f"signal {signum}")


def install_stop_handlers() -> None:
    """SIGINT and SIGTERM raise KeyboardInterrupt once (a new run: no stop requested yet)."""
    global _stop_requested, _raise_on_stop
    _stop_requested, _raise_on_stop = False, True
    for sig in STOP_SIGNALS:
        signal.signal(sig, _interrupt)


@contextmanager
def stops_polled() -> Iterator[None]:
    """Within the block a signal only sets `stop_requested()`, for a loop that polls it."""
    global _raise_on_stop
    _raise_on_stop = False
    try:
        yield
    finally:
        _raise_on_stop = True


@contextmanager
def stop_handlers() -> Iterator[None]:
    """`install_stop_handlers` for the block; the caller's handlers are back afterwards (an
    in-process caller such as pytest or fer-eval-bag keeps its own)."""
    previous = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}
    install_stop_handlers()
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextmanager
def signals_ignored() -> Iterator[None]:
    """SIGINT and SIGTERM ignored for the block (a teardown that must run to its end)."""
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _run(target: str) -> int:
    install_stop_handlers()
    module, function = target.split(":")
    try:
        return getattr(import_module(module), function)()
    except KeyboardInterrupt:  # while the node's module was imported, before its main() took over
        return 0
    except ImportError:
        if stop_requested():  # a C extension's initialisation interrupted by the signal
            return 0
        raise
    finally:
        # The process is ending: Python's own finalisation would put the default handlers back
        # (a late second signal would then kill it), but leaves ignored signals ignored.
        for sig in STOP_SIGNALS:
            signal.signal(sig, signal.SIG_IGN)


def camera_node() -> int:
    return _run("fer_ros.nodes.camera_node:main")


def emotion_node() -> int:
    return _run("fer_ros.nodes.emotion_node:main")


def hri_expression() -> int:
    return _run("fer_ros.nodes.hri_expression_node:main")


def emotion_reactions() -> int:
    return _run("fer_ros.nodes.emotion_reactions:main")


def fer_run() -> int:
    return _run("fer_ros.run:main")
