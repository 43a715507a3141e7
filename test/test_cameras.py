"""Several cameras into one emotion node (`image_topic` with topics separated by commas): each
result says which camera (header.frame_id), track ids and ROS4HRI face ids are unique across
cameras, and one camera's frames never end the other's tracks or clips."""

import needs
import pytest
from fer_msgs.msg import ClipEmotion, FaceEmotionArray
from rclpy.parameter import Parameter
from rclpy.qos import qos_profile_sensor_data
from ros_helpers import resend_until, ros_node, spin_until
from sensor_msgs.msg import Image

from fer_ros.nodes.emotion_node import EmotionNode, image_topics
from fer_ros.ros.image_conversion import array_to_image
from fer_ros.ros.params import ParameterError
from fer_ros.sample_clip import face_frame

CAMERAS = ("cam_left", "cam_right")


def run_two_cameras(hri: bool) -> tuple[list[FaceEmotionArray], dict[str, set[int]], list]:
    """14 frames from each camera, alternating, into one emotion node: (results, track ids per
    camera, the ROS4HRI id lists received, or [] without hri). Each camera's face must get its clip:
    the other camera's frames may not end its buffer."""
    with ros_node("cameras_probe") as (context, probe, executor):
        node = EmotionNode(context=context, namespace="/cams", parameter_overrides=[
            Parameter("image_topic", value=",".join(f"/{c}/image_raw" for c in CAMERAS)),
            Parameter("hri", value=hri)])
        executor.add_node(node)
        try:
            publishers = {c: probe.create_publisher(Image, f"/{c}/image_raw", qos_profile_sensor_data) for c in CAMERAS}
            results: list[FaceEmotionArray] = []
            clips: list[ClipEmotion] = []
            tracked: list = []
            probe.create_subscription(FaceEmotionArray, "/cams/emotions", results.append, 100)
            probe.create_subscription(ClipEmotion, "/cams/clip_emotions", clips.append, 100)
            if hri:
                from hri_msgs.msg import IdsList

                probe.create_subscription(IdsList, "/humans/faces/tracked", tracked.append, 100)
            assert spin_until(executor, lambda: all(p.get_subscription_count() for p in publishers.values()), 30)
            for i in range(14):  # alternating cameras, each answered before the next frame goes out
                for k, camera in enumerate(CAMERAS):
                    msg = array_to_image(face_frame((i + 30 * k) / 60), "bgr8")
                    msg.header.frame_id = camera
                    msg.header.stamp.sec = 100 + i
                    before = len(results)
                    resend_until(executor, publishers[camera], msg, lambda b=before: len(results) > b, 5.0)
            assert len(results) == 28
            ids = {c: {f.track_id for r in results if r.header.frame_id == c for f in r.faces} for c in CAMERAS}
            assert spin_until(executor, lambda: {c.header.frame_id for c in clips} == set(CAMERAS), 5.0)
            if hri:  # ROS4HRI lists both cameras' faces once both have been seen.
                expected = {f"f{next(iter(ids[c])):05d}" for c in CAMERAS}
                spin_until(executor, lambda: tracked and set(tracked[-1].ids) == expected, 5.0)
            return results, ids, tracked
        finally:
            node.destroy_node()


def test_two_cameras_give_distinct_ids_and_their_own_clips():
    _, ids, _ = run_two_cameras(hri=False)
    assert all(len(ids[c]) == 1 for c in CAMERAS), ids  # one stable track per camera
    assert ids["cam_left"] != ids["cam_right"]


@needs.hri_msgs
def test_ros4hri_lists_the_faces_of_both_cameras():
    _, ids, tracked = run_two_cameras(hri=True)
    assert set(tracked[-1].ids) == {f"f{next(iter(ids[c])):05d}" for c in CAMERAS}


def test_image_topic_lists_are_checked():
    assert image_topics("/a/image_raw, /b/image_raw/compressed") == ["/a/image_raw", "/b/image_raw/compressed"]
    for bad in ("/a/image_raw,,/b", "/a,/a", ""):
        with pytest.raises(ParameterError, match="image_topic"):
            image_topics(bad)
