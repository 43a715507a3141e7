"""The `main()` every node module shares: init, spin, clean shutdown, clear start-up errors."""

import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions

from fer_ros.entry_points import stop_on_sigterm, stop_requested
from fer_ros.params import ParameterError
from fer_ros.vision.model_files import ModelFileError

START_ERRORS = (ParameterError, ModelFileError, OSError)
WAKE_PERIOD_S = 0.2  # longest a node's main thread waits in rcl before it looks for a signal


class NodeFailed(RuntimeError):
    """A node's callback raised while it was spun in a thread: the run did not do its job."""


def run_nodes(build: Callable[[list[Node]], None], spin: Callable[[list[Node]], None],
              args: list[str] | None = None) -> int:
    """Create nodes with `build` (it appends them), `spin` them until done, Ctrl-C, SIGTERM or
    shutdown, then destroy them; exit code 2 with the reason when they cannot start, 0 after
    Ctrl-C or SIGTERM, whenever it comes (also while a node is still starting)."""
    stop_on_sigterm()
    nodes: list[Node] = []
    code = 0
    try:
        # rclpy keeps Ctrl-C (it shuts the context down and raises KeyboardInterrupt); SIGTERM
        # raises KeyboardInterrupt through our handler, since rclpy's would only shut down.
        rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.SIGINT)
        build(nodes)
        spin(nodes)
    except START_ERRORS as e:
        print(f"error: {e}", file=sys.stderr)
        code = 2
    except NodeFailed as e:
        print(f"error: {e}", file=sys.stderr)
        code = 1
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except Exception:
        if rclpy.ok() and not stop_requested():
            raise
        # Ctrl-C or SIGTERM came while a node was being built: a clean stop, not an error.
    finally:
        # Ctrl-C in a terminal running `ros2 launch` reaches each node twice (the terminal's own,
        # then launch's), and launch follows up with SIGTERM: neither may interrupt the teardown.
        previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            for node in nodes:
                node.destroy_node()
            rclpy.try_shutdown()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
    return code


def wait_until(condition: Callable[[], bool], timeout: float, step: Callable[[], None] | None = None) -> bool:
    """Poll `condition` until it holds or `timeout` seconds have passed, doing `step` between
    polls (spin an executor once; by default a 2 ms sleep). True if it came to hold."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            return False
        step() if step else time.sleep(0.002)
    return True


def run_node(factory: Callable[[], Node], args: list[str] | None = None) -> int:
    """`main()` of a one-node executable."""
    return run_nodes(lambda nodes: nodes.append(factory()), lambda nodes: spin_until_shutdown(nodes[0]), args)


def spin_until_shutdown(node: Node) -> None:
    """rclpy.spin, but waiting at most `WAKE_PERIOD_S` at a time: a signal's Python handler
    runs only once the main thread is back from `rcl_wait`."""
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    try:
        while rclpy.ok():
            executor.spin_once(timeout_sec=WAKE_PERIOD_S)
    finally:
        executor.shutdown(timeout_sec=1.0)


@contextmanager
def spinning_in_threads(nodes: list[Node]) -> Iterator[list[BaseException]]:
    """Each node spun by an executor in a thread of its own, as separate processes would run
    them (rclpy's MultiThreadedExecutor cost ~1 s of CPU per frame here). Yields the list of
    exceptions raised by callbacks (a thread stops at its first; the caller should stop when
    the list is not empty). Ctrl-C (rclpy's signal handler) ends the spinning quietly; on
    leaving, the threads are stopped and joined, since a thread still inside rcl when the
    process exits aborts it, and NodeFailed is raised if a callback raised."""
    executors, threads = [], []
    failures: list[BaseException] = []
    for node in nodes:
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        executors.append(executor)
        threads.append(threading.Thread(target=_spin_quietly, args=(executor, node, failures), daemon=True))
        threads[-1].start()
    try:
        yield failures
    finally:
        for executor in executors:
            executor.shutdown()
        for thread in threads:
            thread.join(timeout=5.0)
    if failures:
        raise NodeFailed("; ".join(str(f) for f in failures))


def _spin_quietly(executor: SingleThreadedExecutor, node: Node, failures: list[BaseException]) -> None:
    try:
        executor.spin()
    except ExternalShutdownException:
        pass
    except Exception as e:
        if rclpy.ok():  # not the context going down under Ctrl-C
            traceback.print_exc()
            failures.append(RuntimeError(f"node {node.get_fully_qualified_name()} raised {type(e).__name__}: {e}"))
