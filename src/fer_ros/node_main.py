"""The `main()` every node module shares: init, spin, clean shutdown, clear start-up errors."""

import sys
from collections.abc import Callable

import rclpy
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node

from fer_ros.model_files import ModelFileError
from fer_ros.params import ParameterError

START_ERRORS = (ParameterError, ModelFileError, OSError)


def run_nodes(build: Callable[[list[Node]], None], spin: Callable[[list[Node]], None],
              args: list[str] | None = None) -> int:
    """Create nodes with `build` (it appends them), `spin` them until done, Ctrl-C or
    shutdown, then destroy them; exit code 2 with the reason when they cannot start."""
    rclpy.init(args=args)
    nodes: list[Node] = []
    try:
        build(nodes)
        spin(nodes)
    except START_ERRORS as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        for node in nodes:
            node.destroy_node()
        rclpy.try_shutdown()
    return 0


def run_node(factory: Callable[[], Node], args: list[str] | None = None) -> int:
    """`main()` of a one-node executable."""
    return run_nodes(lambda nodes: nodes.append(factory()), lambda nodes: rclpy.spin(nodes[0]), args)
