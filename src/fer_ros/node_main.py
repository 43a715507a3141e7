"""The `main()` every node module shares: init, spin, clean shutdown, clear start-up errors."""

import sys
from collections.abc import Callable

import rclpy
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node

from fer_ros.model_files import ModelFileError
from fer_ros.params import ParameterError

START_ERRORS = (ParameterError, ModelFileError, OSError)


def run_node(factory: Callable[[], Node], args: list[str] | None = None) -> int:
    """Spin one node until Ctrl-C or shutdown; exit code 2 when it cannot start."""
    rclpy.init(args=args)
    node = None
    try:
        node = factory()
        rclpy.spin(node)
    except START_ERRORS as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    return 0
