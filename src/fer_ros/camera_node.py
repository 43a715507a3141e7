"""Camera node: frames from an OpenCV VideoCapture (device or video file) as sensor_msgs/Image.

A camera that cannot be opened, or stops delivering frames (unplugged), is retried every
`retry_period` seconds with one log line and an ERROR in /diagnostics, and the stream comes
back when the device does. A video file that cannot be opened is a configuration error: the
node stops with the reason (exit code 2).
"""

import time

import cv2
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from fer_msgs.msg import FaceEmotionArray
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image
from std_msgs.msg import Header

from fer_ros.image_conversion import array_to_image
from fer_ros.node_main import run_node
from fer_ros.params import Spec, declare_all
from fer_ros.video_source import open_capture

RESULT_TOPIC = "/fer/emotions"
LOCKSTEP_ATTEMPTS = 3

PARAMETERS = {
    "device": Spec(0, "camera index (used when video is empty)", low=0),
    "video": Spec("", "video file to play instead of a camera"),
    "loop": Spec(False, "restart the video file at its end"),
    "frame_id": Spec("camera", "frame_id of the published images"),
    "fps": Spec(0.0, "publishing rate; 0 = the source's own", low=0.0, high=1000.0),
    "lockstep": Spec(True, "video files: wait for the emotion node, then publish each frame once the last "
                           "one's result arrived (false: play at the file's rate, like a camera); ignored for cameras"),
    "lockstep_timeout": Spec(2.0, f"seconds before an unanswered frame is resent ({LOCKSTEP_ATTEMPTS} tries)",
                             low=0.01),
    "retry_period": Spec(2.0, "seconds between attempts to open a camera that is missing or stopped", low=0.1),
    "diagnostics_period": Spec(1.0, "seconds between /diagnostics messages", low=0.1, high=60.0),
}


class CameraNode(Node):
    """Publishes `image_raw` (bgr8) at the source rate, or, for a video file, in lockstep with
    the emotion node: the first frame goes out once a node subscribed to `image_raw` also
    publishes /fer/emotions (the emotion node, models loaded), each next one once the last
    one's result came back, so that a file is processed whole, however slow the start."""

    def __init__(self, **kwargs):
        super().__init__("camera", **kwargs)
        p = declare_all(self, PARAMETERS)
        self.device, self.video, self.loop = p["device"], p["video"], p["loop"]
        self.frame_id, self.retry_period = p["frame_id"], p["retry_period"]
        self.lockstep, self.lockstep_timeout = p["lockstep"] and bool(self.video), p["lockstep_timeout"]
        self.capture = open_capture(self.video or self.device)
        if self.capture is None and self.video:
            raise OSError(f"cannot open video file {self.video!r}")
        source_fps = self.capture.get(cv2.CAP_PROP_FPS) if self.capture else 0.0
        self.fps = p["fps"] or (source_fps if 0 < source_fps <= 1000 else 30.0)
        self.publisher = self.create_publisher(Image, "image_raw", qos_profile_sensor_data)
        self.diagnostics = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.published = 0
        self.lost = 0
        self.finished = False
        self.problem = ""  # why no frames flow now (camera missing or stopped), for logs and diagnostics
        self._awaiting: Image | None = None  # the frame whose result lockstep awaits
        self._sent_at = 0.0
        self._attempts = 0
        self._partner_ready = False
        self._next_retry = 0.0
        if self.lockstep:
            self.create_subscription(FaceEmotionArray, RESULT_TOPIC, self._on_result, 10)
            self.timer = self.create_timer(0.01, self._lockstep_tick)
        else:
            self.timer = self.create_timer(1.0 / self.fps, self.publish_frame)
        self.create_timer(p["diagnostics_period"], self.publish_diagnostics)
        pace = "lockstep with the emotion node" if self.lockstep else f"{self.fps:.1f} Hz"
        self.get_logger().info(f"publishing {self._describe()} on {self.publisher.topic_name} at {pace}")
        if self.capture is None:
            self._camera_lost(f"cannot open camera {self.device}")

    def _describe(self) -> str:
        return f"video {self.video}" if self.video else f"camera {self.device}"

    def _camera_lost(self, reason: str) -> None:
        if self.capture is not None:
            self.capture.release()
            self.capture = None
        self.problem = reason
        self._next_retry = time.monotonic() + self.retry_period
        self.get_logger().error(f"{reason}; retrying every {self.retry_period:g} s (connect the camera, "
                                f"choose another with device:=N, or play a file with video:=PATH)")
        self.publish_diagnostics()

    def _reopen_camera(self) -> bool:
        if time.monotonic() < self._next_retry:
            return False
        self.capture = open_capture(self.device)
        if self.capture is None:
            self._next_retry = time.monotonic() + self.retry_period
            return False
        self.problem = ""
        self.get_logger().info(f"camera {self.device} opened: publishing again")
        self.publish_diagnostics()
        return True

    def publish_frame(self) -> None:
        if self.capture is None and not self._reopen_camera():
            return
        ok, frame = self.capture.read()
        if not ok and self.video and self.loop:
            self.capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, frame = self.capture.read()
        if not ok and not self.video:
            self._camera_lost(f"camera {self.device} stopped delivering frames")
            return
        if not ok:
            self.finished = True
            self.timer.cancel()
            self.get_logger().info(f"end of {self.video} after {self.published} frames")
            return
        header = Header(stamp=self.get_clock().now().to_msg(), frame_id=self.frame_id)
        msg = array_to_image(frame, "bgr8", header)
        self.publisher.publish(msg)
        self.published += 1
        if self.lockstep:
            self._awaiting, self._sent_at, self._attempts = msg, time.monotonic(), 1

    def emotion_node_ready(self) -> bool:
        """True once one node both subscribes to our images and publishes results: the emotion
        node creates its subscription after its models are loaded. Any other subscriber (a
        viewer, `ros2 topic hz`) does not count."""
        if not self._partner_ready:
            readers = {(i.node_name, i.node_namespace)
                       for i in self.get_subscriptions_info_by_topic(self.publisher.topic_name)}
            writers = {(i.node_name, i.node_namespace) for i in self.get_publishers_info_by_topic(RESULT_TOPIC)}
            self._partner_ready = bool(readers & writers)
        return self._partner_ready

    def _lockstep_tick(self) -> None:
        if self.finished or not self.emotion_node_ready():
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

    def publish_diagnostics(self) -> None:
        if self.problem:
            level, message = DiagnosticStatus.ERROR, self.problem
        elif self.lockstep and not self.finished and not self._partner_ready:
            level, message = DiagnosticStatus.OK, "waiting for the emotion node"
        else:
            level, message = DiagnosticStatus.OK, "end of file" if self.finished else "publishing"
        values = {"source": self._describe(), "frames_published": self.published, "frames_lost": self.lost,
                  "fps_setting": f"{self.fps:.1f}", "lockstep": self.lockstep}
        status = DiagnosticStatus(level=level, name=f"fer_ros: camera {self.get_fully_qualified_name()}",
                                  message=message, hardware_id=self.get_fully_qualified_name(),
                                  values=[KeyValue(key=k, value=str(v)) for k, v in values.items()])
        msg = DiagnosticArray(status=[status])
        msg.header.stamp = self.get_clock().now().to_msg()
        self.diagnostics.publish(msg)

    def destroy_node(self) -> None:
        if self.capture is not None:
            self.capture.release()
        super().destroy_node()


def main(args: list[str] | None = None) -> int:
    return run_node(CameraNode, args)
