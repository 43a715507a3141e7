"""Declare-and-validate for node parameters: every value is checked once, at start."""

from collections.abc import Sequence
from typing import Any

from rcl_interfaces.msg import ParameterDescriptor
from rclpy.node import Node


class ParameterError(ValueError):
    """A parameter value that the node refuses; the message names the parameter."""


def declare(node: Node, name: str, default: Any, description: str,
            choices: Sequence[str] | None = None, low: float | None = None,
            high: float | None = None) -> Any:
    """Declare `name` with a descriptor (range/choices shown by `ros2 param describe`) and
    return its value, raising ParameterError when it is out of range or not a choice."""
    descriptor = ParameterDescriptor(description=description)
    if choices:
        descriptor.additional_constraints = f"one of {', '.join(choices)}"
    value = node.declare_parameter(name, default, descriptor).value
    if type(value) is not type(default) and not (isinstance(default, float) and isinstance(value, int)):
        raise ParameterError(f"parameter {name!r} must be a {type(default).__name__}, got {value!r}")
    if choices and value not in choices:
        raise ParameterError(f"parameter {name!r} must be one of {list(choices)}, got {value!r}")
    if low is not None and value < low:
        raise ParameterError(f"parameter {name!r} must be >= {low}, got {value!r}")
    if high is not None and value > high:
        raise ParameterError(f"parameter {name!r} must be <= {high}, got {value!r}")
    return float(value) if isinstance(default, float) else value


