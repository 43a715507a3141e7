"""Driving a lifecycle node to active through its services, safe against a lost reply: ask its
state, send the transition while it is in the transition's start state, ask again until it is in
the goal state. Under load a request or reply sent right after discovery can be lost (the node
logs "failed to send response (timeout)") and a caller that waits for it waits for good.

Used by our launch files (`lifecycle_launch`) and by the test harness that drives ROS4HRI's
`hri_face_detect`; free of `launch`, which the harness's environment may lack. Each caller
brings its own way of waiting for a reply (`Call`), as each spins its ROS node its own way.
"""

import time
from collections.abc import Callable
from typing import Any

from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState, GetState
from rclpy.client import Client
from rclpy.node import Node

REPLY_S = 5.0  # a reply later than this is taken as lost: the state is asked again
STEPS = ((Transition.TRANSITION_CONFIGURE, "unconfigured", "inactive"),
         (Transition.TRANSITION_ACTIVATE, "inactive", "active"))
ACTIVE = STEPS[-1][2]

Call = Callable[[Client, Any], Any]  # (client, request) -> its reply, or None when none came within REPLY_S


def drive_to_active(node: Node, target: str, call: Call, running: Callable[[], bool]) -> str | None:
    """Configure, then activate `target` through `node`'s clients, while `running()`. Returns the
    state it ends in: `ACTIVE`; the start state of a transition that failed (the target's log
    says why); None when `running()` turned false first."""
    get_state = node.create_client(GetState, f"{target}/get_state")
    change_state = node.create_client(ChangeState, f"{target}/change_state")
    try:
        for transition, start, goal in STEPS:
            while True:
                if not running():
                    return None
                reply = call(get_state, GetState.Request())
                label = reply.current_state.label if reply is not None else None
                if label == goal:
                    break
                if label != start:  # no reply, or a transition under way: ask again
                    time.sleep(0.1)
                    continue
                reply = call(change_state, ChangeState.Request(transition=Transition(id=transition)))
                if reply is not None and not reply.success:
                    return start
        return ACTIVE
    finally:
        node.destroy_client(get_state)
        node.destroy_client(change_state)
