"""Parameter tables: declared with descriptors, validated at start and on every change.

A node lists its parameters once as `Spec`s; `declare_all` declares and checks them, and
`refuse_invalid` rejects a run-time change (`ros2 param set`) that is out of range, of the
wrong type or not `dynamic`, with a reason the caller sees.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from rcl_interfaces.msg import ParameterDescriptor, SetParametersResult
from rclpy.node import Node
from rclpy.parameter import Parameter


class ParameterError(ValueError):
    """A parameter value that the node refuses; the message names the parameter."""


@dataclass(frozen=True)
class Spec:
    default: Any
    description: str
    choices: tuple[str, ...] | None = None
    low: float | None = None
    high: float | None = None
    dynamic: bool = False  # may change while the node runs


def check(name: str, spec: Spec, value: Any) -> Any:
    """`value` converted to the parameter's type, or ParameterError saying what is wrong."""
    if isinstance(spec.default, float) and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if type(value) is not type(spec.default):
        raise ParameterError(f"parameter {name!r} must be a {type(spec.default).__name__}, got {value!r}")
    if spec.choices and value not in spec.choices:
        raise ParameterError(f"parameter {name!r} must be one of {list(spec.choices)}, got {value!r}")
    if spec.low is not None and value < spec.low:
        raise ParameterError(f"parameter {name!r} must be >= {spec.low}, got {value!r}")
    if spec.high is not None and value > spec.high:
        raise ParameterError(f"parameter {name!r} must be <= {spec.high}, got {value!r}")
    return value


def declare_all(node: Node, specs: Mapping[str, Spec]) -> dict[str, Any]:
    """Declare every parameter (descriptors show ranges and choices) and return the checked values."""
    values = {}
    for name, spec in specs.items():
        descriptor = ParameterDescriptor(description=spec.description, dynamic_typing=True,
                                         read_only=not spec.dynamic)
        if spec.choices:
            descriptor.additional_constraints = f"one of {', '.join(spec.choices)}"
        values[name] = check(name, spec, node.declare_parameter(name, spec.default, descriptor).value)
    return values


def refuse_invalid(specs: Mapping[str, Spec], apply: Callable[[str, Any], None]
                   ) -> Callable[[list[Parameter]], SetParametersResult]:
    """An on-set-parameters callback: all changes valid and dynamic, or none applied."""
    def callback(params: list[Parameter]) -> SetParametersResult:
        checked = []
        for p in params:
            spec = specs.get(p.name)
            if spec is None or not spec.dynamic:
                return SetParametersResult(successful=False,
                                           reason=f"parameter {p.name!r} cannot change at run time")
            try:
                checked.append((p.name, check(p.name, spec, p.value)))
            except ParameterError as e:
                return SetParametersResult(successful=False, reason=str(e))
        for name, value in checked:
            apply(name, value)
        return SetParametersResult(successful=True)
    return callback
