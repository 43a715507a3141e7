"""One lifecycle (managed node, REP-2002 / ROS4HRI style) for the nodes that load models.

configure loads what the node needs (models, detector, publishers): a missing or bad file or
parameter is FAILURE with the reason logged, and the node stays unconfigured; activate opens its
inputs (subscriptions), deactivate closes them without unloading, cleanup frees what configure
loaded, shutdown works from any state. `ros2 lifecycle get/set` and launch_ros's LifecycleNode
drive it. With `managed` false (the default of our nodes) the node configures and activates
itself as it is built, and a load error stops it (exit code 2) as a plain node's would.
"""

from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn

from fer_ros.ros.node_main import START_ERRORS

SUCCESS, FAILURE = TransitionCallbackReturn.SUCCESS, TransitionCallbackReturn.FAILURE


class ManagedNode(LifecycleNode):
    """Subclasses implement `load`, `open_inputs`, `close_inputs` and `unload`."""

    loaded = False
    active = False

    def load(self) -> None:
        """Models, publishers, timers; raises one of START_ERRORS with the reason."""
        raise NotImplementedError

    def open_inputs(self) -> None:
        raise NotImplementedError

    def close_inputs(self) -> None:
        raise NotImplementedError

    def unload(self) -> None:
        raise NotImplementedError

    def start(self, managed: bool) -> None:
        """The end of a subclass's __init__: wait to be configured (managed), or load and listen now."""
        if managed:
            self.get_logger().info("managed: waiting to be configured (ros2 lifecycle set ... configure)")
        else:
            self.start_unmanaged()

    def start_unmanaged(self) -> None:
        """configure and activate now; a load error is raised (exit code 2 for a command)."""
        try:
            self.load()
        except BaseException:
            self.unload()
            raise
        self.loaded = True
        self.trigger_configure()  # the state machine follows: loaded already, nothing loads twice
        self.trigger_activate()

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        if self.loaded:
            return SUCCESS
        try:
            self.load()
        except START_ERRORS as e:
            self.get_logger().error(f"configure failed: {e}")
            self.unload()
            return FAILURE
        self.loaded = True
        return SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.open_inputs()
        self.active = True
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.active = False
        self.close_inputs()
        self.get_logger().info("inactive: not listening (activate to listen again)")
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.unload()
        self.loaded = False
        return SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._close()
        return SUCCESS

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._close()
        return SUCCESS  # back to unconfigured, where configure may be tried again

    def _close(self) -> None:
        if self.active:
            self.active = False
            self.close_inputs()
        if self.loaded:
            self.unload()
            self.loaded = False

    def destroy_node(self) -> None:
        self._close()
        super().destroy_node()
