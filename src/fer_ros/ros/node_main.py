"""The `main()` every node module shares: init, spin, clean shutdown, clear start-up errors."""

import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.impl.implementation_singleton import rclpy_implementation
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions

from fer_ros.ros.entry_points import signals_ignored, stop_handlers, stop_requested, stops_polled
from fer_ros.ros.params import ParameterError
from fer_ros.vision.model_files import ModelFileError

START_ERRORS = (ParameterError, ModelFileError, OSError)
RCLError = rclpy_implementation.RCLError
WAKE_PERIOD_S = 0.2  # longest a node's main thread waits in rcl before it looks for a signal
EXECUTOR_SHUTDOWN_S = 2.0  # longest wait for a running callback at the end (a camera stuck in a read)


class NodeFailed(RuntimeError):
    """A node's callback raised while it was spun in a thread: the run did not do its job."""


def run_nodes(build: Callable[[list[Node]], None], spin: Callable[[list[Node]], None],
              args: list[str] | None = None) -> int:
    """Create nodes with `build` (it appends them), `spin` them until done, Ctrl-C, SIGTERM or
    shutdown, then destroy them. Exit code 2 with one line when they cannot start (bad
    arguments or parameters file, parameter, model), 1 when a node failed or its teardown
    did, 0 after Ctrl-C or SIGTERM, whenever it comes (also while a node is still starting)."""
    with stop_handlers():
        try:
            # No rclpy signal handler: ours (entry_points) turns both signals into one
            # KeyboardInterrupt, and a second one into nothing.
            rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
        except KeyboardInterrupt:
            return 0
        except RCLError as e:  # a missing or malformed --params-file, a bare -p, an unknown --ros-args flag
            print(f"error: cannot start: {str(e).splitlines()[0]} (check the --ros-args and the parameters "
                  f"file{': ' + ' '.join(args) if args else ''})", file=sys.stderr)
            return 2
        nodes: list[Node] = []
        code = 0
        try:
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
        except ImportError:
            if not stop_requested():  # else the signal interrupted a C extension's initialisation
                raise
        finally:
            code = max(code, _tear_down(nodes))
    return code


def _tear_down(nodes: list[Node]) -> int:
    """Destroy every node, then shut rclpy down, whatever fails on the way and whatever signal
    comes meanwhile; 1 if something failed."""
    code = 0
    with signals_ignored():
        for node in nodes:
            try:
                node.destroy_node()
            except Exception as e:
                print(f"error: destroying node {node.get_name()}: {type(e).__name__}: {e}", file=sys.stderr)
                code = 1
        rclpy.try_shutdown()
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


def keep_going() -> bool:
    """False once a stop was asked for (SIGINT, SIGTERM) or rclpy was shut down: the condition
    of every loop that spins or waits while nodes run."""
    return rclpy.ok() and not stop_requested()


def spin_until_shutdown(node: Node) -> None:
    """rclpy.spin until a stop is asked for, waiting at most `WAKE_PERIOD_S` at a time: a
    signal's Python handler runs only once the main thread is back from `rcl_wait`."""
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    try:
        with stops_polled():
            while keep_going():
                executor.spin_once(timeout_sec=WAKE_PERIOD_S)
    finally:
        executor.shutdown(timeout_sec=1.0)


@contextmanager
def spinning_in_threads(nodes: list[Node]) -> Iterator[list[BaseException]]:
    """Each node spun by an executor in a thread of its own, as separate processes would run
    them (rclpy's MultiThreadedExecutor cost ~1 s of CPU per frame here). Yields the list of
    exceptions raised by callbacks (a thread stops at its first; the caller should stop when
    the list is not empty, and loop while `keep_going()`: within the block Ctrl-C or SIGTERM only
    asks for the stop). On leaving, however it is left, the threads are stopped and joined before
    the caller destroys the nodes (a thread still inside rcl, or reading a video, when its node
    goes aborts the process), and NodeFailed is raised if a callback raised."""
    executors, threads = [], []
    failures: list[BaseException] = []
    ending = threading.Event()  # set before the executors go: what a thread raises after is their end, not a fault
    with stops_polled():
        try:  # a signal while the threads start must stop those already started
            for node in nodes:
                executor = SingleThreadedExecutor()
                executor.add_node(node)
                executors.append(executor)
                threads.append(threading.Thread(target=_spin_quietly, args=(executor, node, failures, ending),
                                                daemon=True))
                threads[-1].start()
            yield failures
        finally:
            ending.set()
            with signals_ignored():  # the nodes are destroyed only once no thread runs their callbacks
                for executor in executors:
                    executor.shutdown(timeout_sec=EXECUTOR_SHUTDOWN_S)
                for thread in threads:
                    if thread.is_alive():  # not when the signal came before its start
                        thread.join(timeout=5.0)
    if failures:
        raise NodeFailed("; ".join(str(f) for f in failures))


def _spin_quietly(executor: SingleThreadedExecutor, node: Node, failures: list[BaseException],
                  ending: threading.Event) -> None:
    try:
        executor.spin()
    except ExternalShutdownException:
        pass
    except Exception as e:
        # Not the context going down under Ctrl-C, nor the executor shut down under a running
        # spin (rclpy then raises InvalidHandle from its own guard condition).
        if rclpy.ok() and not ending.is_set():
            traceback.print_exc()
            failures.append(RuntimeError(f"node {node.get_fully_qualified_name()} raised {type(e).__name__}: {e}"))
