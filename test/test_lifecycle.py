"""The emotion node as a managed (lifecycle) node, driven in-process as `ros2 lifecycle set` and
launch_ros drive it (the real `ros2 lifecycle` on a launched node: test_ros2_tools.py):
configure loads or fails with the reason, activate listens, deactivate stops answering and keeps
the models, cleanup frees them, shutdown works from any state."""

from fer_msgs.msg import FaceEmotionArray
from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState
from rclpy.lifecycle import TransitionCallbackReturn
from rclpy.parameter import Parameter
from rclpy.qos import qos_profile_sensor_data
from ros_helpers import resend_until, ros_node, spin_until
from sensor_msgs.msg import Image

from fer_ros.nodes.emotion_node import EmotionNode
from fer_ros.ros.image_conversion import array_to_image
from fer_ros.ros.lifecycle_steps import ACTIVE, REPLY_S, drive_to_active
from fer_ros.sample_clip import face_frame

TOPIC = "/managed_cam/image_raw"


def managed_node(context, *extra: Parameter) -> EmotionNode:
    return EmotionNode(context=context, namespace="/managed", parameter_overrides=[
        Parameter("managed", value=True), Parameter("image_topic", value=TOPIC), Parameter("clip_model", value="none"),
        *extra])


def test_driven_to_active_through_a_lost_reply_and_a_failed_configure_reported(tmp_path):
    """What our launch files and the hri_face_detect harness do (`lifecycle_steps`), over the
    node's real lifecycle services. The first ChangeState reply is dropped here, as DDS dropped
    one beside two busy loops: the node is still driven to active, each transition sent once."""
    with ros_node("lifecycle_driver") as (context, probe, executor):
        sent: list[int] = []

        def call(client, request):
            assert client.wait_for_service(timeout_sec=30.0)
            future = client.call_async(request)
            executor.spin_until_future_complete(future, timeout_sec=REPLY_S)
            if isinstance(request, ChangeState.Request):
                sent.append(request.transition.id)
                if len(sent) == 1:
                    return None  # the reply lost
            return future.result() if future.done() else None

        configure, activate = Transition.TRANSITION_CONFIGURE, Transition.TRANSITION_ACTIVATE
        # A configure done but its reply lost is not sent again; one that failed, its reply lost, is.
        for model_dir, ends_in, sends in (("", ACTIVE, [configure, activate]),
                                          (str(tmp_path), "unconfigured", [configure, configure])):
            sent.clear()
            node = managed_node(context, Parameter("model_dir", value=model_dir))
            executor.add_node(node)
            try:
                assert drive_to_active(probe, node.get_fully_qualified_name(), call, lambda: True) == ends_in
                assert node.active == (ends_in == ACTIVE) and sent == sends
            finally:
                executor.remove_node(node)
                node.destroy_node()


def test_configure_with_a_missing_model_fails_with_the_reason(tmp_path):
    with ros_node("lifecycle_probe") as (context, _, executor):
        node = managed_node(context, Parameter("model_dir", value=str(tmp_path)))
        logged: list[str] = []
        node.get_logger().error = lambda text, **kwargs: logged.append(text)
        try:
            assert node.trigger_configure() == TransitionCallbackReturn.FAILURE
            assert any("configure failed" in line and str(tmp_path) in line for line in logged), logged
            # Still unconfigured (shutdown from there succeeds), nothing loaded.
            assert not node.loaded and node.trigger_shutdown() == TransitionCallbackReturn.SUCCESS
        finally:
            node.destroy_node()


def test_inactive_gives_no_answers_active_does_and_cleanup_frees_the_models():
    with ros_node("lifecycle_probe") as (context, probe, executor):
        node = managed_node(context)
        executor.add_node(node)
        images = probe.create_publisher(Image, TOPIC, qos_profile_sensor_data)
        results: list[FaceEmotionArray] = []
        probe.create_subscription(FaceEmotionArray, "/managed/emotions", results.append, 100)
        stamp = iter(range(100, 10_000))

        def answered(timeout: float) -> bool:
            msg = array_to_image(face_frame(0.0), "bgr8")
            msg.header.stamp.sec = next(stamp)
            before = len(results)
            return resend_until(executor, images, msg, lambda: len(results) > before, timeout, tries=3)

        try:
            assert not node.loaded and images.get_subscription_count() == 0  # unconfigured: not listening
            assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS and node.classifier is not None
            assert images.get_subscription_count() == 0 and not answered(1.0)  # inactive
            assert node.trigger_activate() == TransitionCallbackReturn.SUCCESS
            assert spin_until(executor, lambda: images.get_subscription_count() == 1, 10) and answered(5.0)
            assert results[-1].faces and results[-1].faces[0].label == "happy"
            assert node.trigger_deactivate() == TransitionCallbackReturn.SUCCESS
            assert not answered(1.0) and node.classifier is not None  # models kept
            assert node.trigger_activate() == TransitionCallbackReturn.SUCCESS and answered(5.0)
            assert node.trigger_deactivate() == TransitionCallbackReturn.SUCCESS
            assert node.trigger_cleanup() == TransitionCallbackReturn.SUCCESS
            assert node.classifier is None and node.publisher is None and not node.loaded
            assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS  # again, after cleanup
            assert node.trigger_activate() == TransitionCallbackReturn.SUCCESS and answered(5.0)
            assert node.trigger_shutdown() == TransitionCallbackReturn.SUCCESS  # from active
            assert not node.loaded and not node.active
        finally:
            executor.remove_node(node)
            node.destroy_node()
