"""launch_ros actions that drive a lifecycle node to active by themselves, for our launch files
(imported by them only: the nodes never load `launch`)."""

from launch.actions import EmitEvent, RegisterEventHandler
from launch.conditions import IfCondition
from launch.events import matches_action
from launch_ros.actions import LifecycleNode
from launch_ros.event_handlers import OnStateTransition
from launch_ros.events.lifecycle import ChangeState
from lifecycle_msgs.msg import Transition


def driven_to_active(node: LifecycleNode, condition: IfCondition | None = None) -> list:
    """`node`, configured at once and activated once configure brought it to inactive (not after
    a deactivate: `ros2 lifecycle set ... deactivate` must hold). A configure FAILURE (a bad model
    file) leaves it unconfigured, saying why."""
    def change(transition: int) -> EmitEvent:
        return EmitEvent(event=ChangeState(lifecycle_node_matcher=matches_action(node), transition_id=transition),
                         condition=condition)

    activate = RegisterEventHandler(OnStateTransition(target_lifecycle_node=node, start_state="configuring",
                                                      goal_state="inactive",
                                                      entities=[change(Transition.TRANSITION_ACTIVATE)]))
    return [node, activate, change(Transition.TRANSITION_CONFIGURE)]
