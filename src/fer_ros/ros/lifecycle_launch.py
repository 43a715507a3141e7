"""A launch action that drives a lifecycle node to active by itself, for our launch files
(imported by them only: the nodes never load `launch`).

launch_ros's own way (a ChangeState event per transition) sends each request once and waits for
its reply forever: on a loaded machine a request or reply sent right after discovery can be
lost, and the node then stays unconfigured for good (seen here: `Abandoning wait for the
'/hri_expression/change_state' service response` at Ctrl-C, two minutes later). This one drives
it with `lifecycle_steps`, which asks the node's state and repeats a transition whose reply does
not come within `REPLY_S`.
"""

import threading
import time

import launch.logging
from launch import LaunchContext
from launch.actions import OpaqueFunction
from launch_ros.actions import LifecycleNode
from launch_ros.ros_adapters import get_ros_node

from fer_ros.ros.lifecycle_steps import ACTIVE, REPLY_S, drive_to_active


def driven_to_active(node: LifecycleNode) -> list:
    """`node`, configured once it is up, then activated (once, at launch: a later `ros2
    lifecycle set ... deactivate` holds), under the node's own condition. A configure that fails
    (a bad model file) leaves it unconfigured, saying why in its own log."""
    def start(context: LaunchContext) -> None:
        driver = context.asyncio_loop.run_in_executor(None, drive, get_ros_node(context), node.node_name, context)
        context.add_completion_future(driver)

    return [node, OpaqueFunction(function=start, condition=node.condition)]


def drive(ros_node, name: str, context: LaunchContext) -> None:
    state = drive_to_active(ros_node, name, lambda client, request: _call(client, request, context),
                            lambda: not context.is_shutdown)
    if state not in (ACTIVE, None):
        launch.logging.get_logger("fer_ros.lifecycle").error(
            f"{name}: a lifecycle transition failed; it stays {state} (its log says why)")


def _call(client, request, context: LaunchContext):
    """The reply, or None when none came within REPLY_S (or the launch is shutting down)."""
    while not client.wait_for_service(timeout_sec=1.0):
        if context.is_shutdown:
            return None
    done = threading.Event()
    future = client.call_async(request)
    future.add_done_callback(lambda _: done.set())
    deadline = time.monotonic() + REPLY_S
    while not done.wait(0.5):
        if context.is_shutdown or time.monotonic() > deadline:
            future.cancel()
            return None
    return future.result()
