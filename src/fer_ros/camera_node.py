"""Camera node: frames from an OpenCV VideoCapture (device or video file) as sensor_msgs/Image."""

import time

import cv2
from fer_msgs.msg import FaceEmotionArray
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image
from std_msgs.msg import Header

from fer_ros.image_conversion import array_to_image
from fer_ros.node_main import run_node
from fer_ros.params import ParameterError, Spec, declare_all

RESULT_TOPIC = "/fer/emotions"
LOCKSTEP_ATTEMPTS = 3

PARAMETERS = {
    "device": Spec(0, "camera index (used when video is empty)", low=0),
    "video": Spec("", "video file to play instead of a camera"),
    "loop": Spec(False, "restart the video file at its end"),
    "frame_id": Spec("camera", "frame_id of the published images"),
    "fps": Spec(0.0, "publishing rate; 0 = the source's own", low=0.0, high=1000.0),
    "lockstep": Spec(False, "video only: publish the next frame once the last one's result arrived"),
    "lockstep_timeout": Spec(2.0, f"seconds before an unanswered frame is resent ({LOCKSTEP_ATTEMPTS} tries)",
                             low=0.01),
}


class CameraNode(Node):
    """Publishes `image_raw` (bgr8) at the source rate, or in lockstep with the emotion node:
    with `lockstep`, the next frame of a video file goes out once the last one's result came
    back on /fer/emotions, so that a file is processed without dropping frames."""

    def __init__(self, **kwargs):
        super().__init__("camera", **kwargs)
        p = declare_all(self, PARAMETERS)
        self.device, self.video, self.loop = p["device"], p["video"], p["loop"]
        self.frame_id, fps = p["frame_id"], p["fps"]
        self.lockstep, self.lockstep_timeout = p["lockstep"], p["lockstep_timeout"]
        if self.lockstep and not self.video:
            raise ParameterError("parameter 'lockstep' needs a video file: a camera cannot wait")

        source = self.video or self.device
        self.capture = cv2.VideoCapture(source)
        if not self.capture.isOpened():
            raise OSError(f"cannot open video source {source!r}")
        source_fps = self.capture.get(cv2.CAP_PROP_FPS)
        self.fps = fps or (source_fps if 0 < source_fps <= 1000 else 30.0)
        self.publisher = self.create_publisher(Image, "image_raw", qos_profile_sensor_data)
        self.published = 0
        self.lost = 0
        self.finished = False
        self._awaiting: Image | None = None  # the frame whose result lockstep awaits
        self._sent_at = 0.0
        self._attempts = 0
        if self.lockstep:
            self.create_subscription(FaceEmotionArray, RESULT_TOPIC, self._on_result, 10)
            self.timer = self.create_timer(0.01, self._lockstep_tick)
        else:
            self.timer = self.create_timer(1.0 / self.fps, self.publish_frame)
        self.get_logger().info(f"publishing {source!r} on {self.publisher.topic_name} at "
                               f"{'lockstep' if self.lockstep else f'{self.fps:.1f} Hz'}")

    def publish_frame(self) -> None:
        ok, frame = self.capture.read()
        if not ok and self.video and self.loop:
            self.capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, frame = self.capture.read()
        if not ok:
            self.finished = True
            self.timer.cancel()
            self.get_logger().info(f"end of {self.video or 'camera stream'} after {self.published} frames")
            return
        header = Header(stamp=self.get_clock().now().to_msg(), frame_id=self.frame_id)
        msg = array_to_image(frame, "bgr8", header)
        self.publisher.publish(msg)
        self.published += 1
        if self.lockstep:
            self._awaiting, self._sent_at, self._attempts = msg, time.monotonic(), 1

    def _lockstep_tick(self) -> None:
        if self.finished or self.publisher.get_subscription_count() == 0:
            return
        if self._awaiting is None:
            self.publish_frame()
        elif time.monotonic() - self._sent_at > self.lockstep_timeout:
            # Best effort can lose a frame (the first one, while discovery settles): resend it.
            if self._attempts < LOCKSTEP_ATTEMPTS:
                self.publisher.publish(self._awaiting)
                self._sent_at, self._attempts = time.monotonic(), self._attempts + 1
                return
            self.lost += 1
            self.get_logger().warning(f"no result for frame {self.published} after "
                                      f"{LOCKSTEP_ATTEMPTS} tries; moving on ({self.lost} lost)")
            self.publish_frame()

    def _on_result(self, msg: FaceEmotionArray) -> None:
        if self._awaiting is not None and msg.header.stamp == self._awaiting.header.stamp:
            self._awaiting = None
            self.publish_frame()

    def destroy_node(self) -> None:
        self.capture.release()
        super().destroy_node()


def main(args: list[str] | None = None) -> int:
    return run_node(CameraNode, args)
