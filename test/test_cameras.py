"""Several cameras into one emotion node (`image_topic` with topics separated by commas): each
result says which camera (header.frame_id), track ids and ROS4HRI face ids are unique across
cameras, and one camera's frames never end the other's tracks or clips."""

import pytest
from fer_msgs.msg import ClipEmotion, FaceEmotionArray
from rclpy.parameter import Parameter
from rclpy.qos import qos_profile_sensor_data
from ros_helpers import ros_node, spin_until
from sensor_msgs.msg import Image

from fer_ros.emotion_node import EmotionNode, image_topics
from fer_ros.image_conversion import array_to_image
from fer_ros.params import ParameterError
from fer_ros.sample_clip import face_frame

CAMERAS = ("cam_left", "cam_right")


def test_two_cameras_give_distinct_ids_and_their_own_clips():
    pytest.importorskip("hri_msgs.msg", reason="hri_msgs is built by make setup from ../shared/ros4hri")
    from hri_msgs.msg import IdsList

    with ros_node("cameras_probe") as (context, probe, executor):
        node = EmotionNode(context=context, namespace="/cams", parameter_overrides=[
            Parameter("image_topic", value=",".join(f"/{c}/image_raw" for c in CAMERAS)),
            Parameter("hri", value=True)])
        executor.add_node(node)
        try:
            publishers = {c: probe.create_publisher(Image, f"/{c}/image_raw", qos_profile_sensor_data) for c in CAMERAS}
            results: list[FaceEmotionArray] = []
            clips: list[ClipEmotion] = []
            tracked: list[IdsList] = []
            probe.create_subscription(FaceEmotionArray, "/cams/emotions", results.append, 100)
            probe.create_subscription(ClipEmotion, "/cams/clip_emotions", clips.append, 100)
            probe.create_subscription(IdsList, "/humans/faces/tracked", tracked.append, 100)
            assert spin_until(executor, lambda: all(p.get_subscription_count() for p in publishers.values()), 30)
            for i in range(14):  # alternating cameras, each answered before the next frame goes out
                for k, camera in enumerate(CAMERAS):
                    msg = array_to_image(face_frame((i + 30 * k) / 60), "bgr8")
                    msg.header.frame_id = camera
                    msg.header.stamp.sec = 100 + i
                    before = len(results)
                    for _ in range(5):  # best effort: resent if lost
                        publishers[camera].publish(msg)
                        if spin_until(executor, lambda b=before: len(results) > b, 5.0):
                            break
            assert len(results) == 28
            ids = {c: {f.track_id for r in results if r.header.frame_id == c for f in r.faces} for c in CAMERAS}
            assert all(len(ids[c]) == 1 for c in CAMERAS), ids  # one stable track per camera
            assert ids["cam_left"] != ids["cam_right"]
            # Each camera's face got its clip: the other camera's frames did not end its buffer.
            assert spin_until(executor, lambda: {c.header.frame_id for c in clips} == set(CAMERAS), 5.0)
            # ROS4HRI lists both cameras' faces once both have been seen.
            expected = {f"f{next(iter(ids[c])):05d}" for c in CAMERAS}
            assert spin_until(executor, lambda: tracked and set(tracked[-1].ids) == expected, 5.0)
        finally:
            node.destroy_node()


def test_image_topic_lists_are_checked():
    assert image_topics("/a/image_raw, /b/image_raw/compressed") == ["/a/image_raw", "/b/image_raw/compressed"]
    for bad in ("/a/image_raw,,/b", "/a,/a", ""):
        with pytest.raises(ParameterError, match="image_topic"):
            image_topics(bad)
