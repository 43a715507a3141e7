"""A launch action that drives a lifecycle node to active by itself, for our launch files
(imported by them only: the nodes never load `launch`).

launch_ros's own way (a ChangeState event per transition) sends each request once and waits for
its reply forever: on a loaded machine a request or reply sent right after discovery can be
lost, and the node then stays unconfigured for good (seen here: `Abandoning wait for the
'/hri_expression/change_state' service response` at Ctrl-C, two minutes later). This one asks
the node's state and repeats a transition whose reply does not come within `REPLY_S`.
"""

import threading
import time

import launch.logging
from launch import LaunchContext
from launch.actions import OpaqueFunction
from launch_ros.actions import LifecycleNode
from launch_ros.ros_adapters import get_ros_node
from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState, GetState

REPLY_S = 5.0  # a reply later than this is taken as lost: the state is asked again
STEPS = ((Transition.TRANSITION_CONFIGURE, "unconfigured", "inactive"),
         (Transition.TRANSITION_ACTIVATE, "inactive", "active"))


def driven_to_active(node: LifecycleNode) -> list:
    """`node`, configured once it is up, then activated (once, at launch: a later `ros2
    lifecycle set ... deactivate` holds), under the node's own condition. A configure that fails
    (a bad model file) leaves it unconfigured, saying why in its own log."""
    def start(context: LaunchContext) -> None:
        driver = context.asyncio_loop.run_in_executor(None, drive, get_ros_node(context), node.node_name, context)
        context.add_completion_future(driver)

    return [node, OpaqueFunction(function=start, condition=node.condition)]


def drive(ros_node, name: str, context: LaunchContext) -> None:
    logger = launch.logging.get_logger("fer_ros.lifecycle")
    get_state = ros_node.create_client(GetState, f"{name}/get_state")
    change_state = ros_node.create_client(ChangeState, f"{name}/change_state")
    try:
        for transition, start, goal in STEPS:
            while not context.is_shutdown:
                reply = _call(get_state, GetState.Request(), context)
                label = reply.current_state.label if reply is not None else None
                if label == goal:
                    break
                if label != start:  # no reply, or a transition under way: ask again
                    time.sleep(0.1)
                    continue
                reply = _call(change_state, ChangeState.Request(transition=Transition(id=transition)), context)
                if reply is not None and not reply.success:
                    logger.error(f"{name}: transition to {goal} failed; it stays {start} (its log says why)")
                    return
    finally:
        ros_node.destroy_client(get_state)
        ros_node.destroy_client(change_state)


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
