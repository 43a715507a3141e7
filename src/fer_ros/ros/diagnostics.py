"""One /diagnostics message for a node: a status named after the node, its values as strings;
and how a node counts and logs an input that failed."""

import traceback
from typing import Any

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.node import Node

from fer_ros.ros.frame_stats import FrameStats


def diagnostic_array(node: Node, level: bytes, message: str, values: dict[str, Any]) -> DiagnosticArray:
    """A DiagnosticArray with one status: name `fer_ros: <node's name>`, hardware_id the node's
    fully qualified name (what a monitor filters on), stamped now."""
    status = DiagnosticStatus(level=level, name=f"fer_ros: {node.get_name()}", message=message,
                              hardware_id=node.get_fully_qualified_name(),
                              values=[KeyValue(key=k, value=str(v)) for k, v in values.items()])
    array = DiagnosticArray(status=[status])
    array.header.stamp = node.get_clock().now().to_msg()
    return array


def count_failure(node: Node, stats: FrameStats, error: Exception, bad_input: tuple[type, ...], what: str) -> None:
    """Count a failed input (`what`: a frame, a face image) by kind; bad input (`bad_input`) is one
    line, anything else (a fault in the node or a library) is logged with its traceback the first
    time its kind occurs and then throttled."""
    kind = type(error).__name__
    first = stats.error(kind)
    logger = node.get_logger()
    if isinstance(error, bad_input):
        logger.warning(f"{what} skipped: {kind}: {error}", throttle_duration_sec=1.0)
    elif first:
        logger.error(f"{what} failed: {kind}: {error}\n{''.join(traceback.format_exception(error)).rstrip()}")
    else:
        logger.error(f"{what} failed: {kind}: {error} ({stats.errors[kind]} so far)", throttle_duration_sec=10.0)
