"""Parameter tables: declared with descriptors, validated at start and on every change.

A node lists its parameters once as `Spec`s; `declare_all` declares and checks them, and
`refuse_invalid` rejects a run-time change (`ros2 param set`) that is out of range, of the
wrong type or not `dynamic`, with a reason the caller sees.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor, SetParametersResult
from rclpy.exceptions import InvalidParameterTypeException, InvalidParameterValueException
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
    """Declare every parameter and return the checked values. Descriptors carry the range
    (`ros2 param describe`) and the choices; a parameters file or `-p` naming a parameter the
    node does not have (a typo) is refused, not silently ignored."""
    unknown = sorted(set(node._parameter_overrides) - set(specs) - set(node._parameters))  # noqa: SLF001 (rclpy's own Node)
    if unknown:
        raise ParameterError(f"node {node.get_fully_qualified_name()} has no parameter(s) {', '.join(unknown)} "
                             f"(from the parameters file or -p); it has: {', '.join(specs)}")
    return {name: _declare(node, name, spec) for name, spec in specs.items()}


def _declare(node: Node, name: str, spec: Spec) -> Any:
    """The parameter declared and its value checked; rclpy's own refusal of a value outside the
    descriptor's range becomes our ParameterError (exit code 2 with one line)."""
    try:
        value = node.declare_parameter(name, spec.default, descriptor(spec)).value
    except (InvalidParameterValueException, InvalidParameterTypeException) as e:
        override = node._parameter_overrides[name].value  # noqa: SLF001 (rclpy's own Node)
        check(name, spec, override)  # raises with our wording where it can say more
        raise ParameterError(f"parameter {name!r}: {e}") from e
    return check(name, spec, value)


def descriptor(spec: Spec) -> ParameterDescriptor:
    """What `ros2 param describe` shows: the description, range or choices, and whether it may
    change at run time."""
    d = ParameterDescriptor(description=spec.description, dynamic_typing=True, read_only=not spec.dynamic)
    if spec.choices:
        d.additional_constraints = f"one of {', '.join(spec.choices)}"
    elif spec.low is not None or spec.high is not None:
        d.additional_constraints = f"from {'-inf' if spec.low is None else spec.low} to " \
                                   f"{'inf' if spec.high is None else spec.high}"
        ranges = [FloatingPointRange, IntegerRange][isinstance(spec.default, int)]
        bound = float if isinstance(spec.default, float) else int
        limits = {"from_value": bound(spec.low if spec.low is not None else -2 ** 31),
                  "to_value": bound(spec.high if spec.high is not None else 2 ** 31 - 1)}
        (d.floating_point_range if ranges is FloatingPointRange else d.integer_range).append(ranges(**limits))
    return d


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
        try:
            for name, value in checked:
                apply(name, value)
        except ParameterError as e:  # a value the node's current state cannot take
            return SetParametersResult(successful=False, reason=str(e))
        return SetParametersResult(successful=True)
    return callback
