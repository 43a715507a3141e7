"""One /diagnostics message for a node: a status named after the node, its values as strings."""

from typing import Any

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.node import Node


def diagnostic_array(node: Node, level: bytes, message: str, values: dict[str, Any]) -> DiagnosticArray:
    """A DiagnosticArray with one status: name `fer_ros: <node's name>`, hardware_id the node's
    fully qualified name (what a monitor filters on), stamped now."""
    status = DiagnosticStatus(level=level, name=f"fer_ros: {node.get_name()}", message=message,
                              hardware_id=node.get_fully_qualified_name(),
                              values=[KeyValue(key=k, value=str(v)) for k, v in values.items()])
    array = DiagnosticArray(status=[status])
    array.header.stamp = node.get_clock().now().to_msg()
    return array
