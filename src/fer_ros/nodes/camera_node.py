"""Camera node: frames from an OpenCV VideoCapture (device or video file) as sensor_msgs/Image.

A camera that cannot be opened, or stops delivering frames (unplugged), is retried every
`retry_period` seconds with one log line and an ERROR in /diagnostics, and the stream comes
back when the device does. A camera is read in a thread of its own, which keeps the newest
frame for the publishing timer: a driver stuck in a read holds that thread only, never the
executor, and the node still stops. A video file that cannot be opened is a configuration error: the
node stops with the reason (exit code 2).

A video file waits for its reader, saying so in the log every few seconds: in lockstep for a
node that reads the images and publishes `results_topic` (the emotion node, models loaded);
otherwise for any reader (the emotion node, a viewer, `ros2 bag record`). A camera starts at once.
"""

import threading
import time

import cv2
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from fer_msgs.msg import FaceEmotionArray
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header

from fer_ros.ros.diagnostics import diagnostic_array
from fer_ros.ros.graph import EMOTIONS_TOPIC
from fer_ros.ros.image_conversion import array_to_compressed, array_to_image
from fer_ros.ros.node_main import run_node
from fer_ros.ros.params import ParameterError, Spec, declare_all
from fer_ros.ros.video_source import open_capture

LOCKSTEP_ATTEMPTS = 3
WAITING_LOG_PERIOD_S = 5.0

PARAMETERS = {
    "device": Spec(0, "camera index (used when video is empty)", low=0),
    "video": Spec("", "video file to play instead of a camera"),
    "loop": Spec(False, "restart the video file at its end"),
    "frame_id": Spec("camera", "frame_id of the published images"),
    "rate": Spec("source", "frames per second: source (the camera's or file's own), a number, or max (lockstep "
                           "only: each frame as soon as the last one's result came back)"),
    "lockstep": Spec(True, "video files: start once a node reads the images and publishes results_topic, then "
                           "publish each frame once the last one's result arrived, no faster than `rate` (false: "
                           "start once anyone reads the images and play at `rate`, answered or not, like a "
                           "camera); ignored for cameras"),
    "results_topic": Spec(EMOTIONS_TOPIC, "where the emotion node answers (lockstep waits for its results)"),
    "lockstep_timeout": Spec(2.0, f"seconds before an unanswered frame is resent ({LOCKSTEP_ATTEMPTS} tries)",
                             low=0.01),
    "jpeg_quality": Spec(80, "JPEG quality of image_raw/compressed (published only while someone subscribes)",
                         low=1, high=100),
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
        # First, so that a node stopped while it starts can be destroyed.
        self._capture_lock = threading.Lock()  # no release while a read runs (FFmpeg's threads abort)
        self.capture: cv2.VideoCapture | None = None
        self._stop_reading = threading.Event()
        self._reader: threading.Thread | None = None  # a camera's reading thread
        self._newest = None  # the newest camera frame not yet published
        self._newest_lock = threading.Lock()
        p = declare_all(self, PARAMETERS)
        self.device, self.video, self.loop = p["device"], p["video"], p["loop"]
        self.frame_id, self.retry_period = p["frame_id"], p["retry_period"]
        self.lockstep, self.lockstep_timeout = p["lockstep"] and bool(self.video), p["lockstep_timeout"]
        self.results_topic = p["results_topic"]
        self.capture = open_capture(self.video or self.device)
        if self.capture is None and self.video:
            raise OSError(f"cannot open video file {self.video!r}")
        source_fps = self.capture.get(cv2.CAP_PROP_FPS) if self.capture else 0.0
        self.fps = publishing_rate(p["rate"], source_fps, self.lockstep)  # inf: as fast as answered
        self.publisher = self.create_publisher(Image, "image_raw", qos_profile_sensor_data)
        # As image_transport's compressed plugin: <topic>/compressed, JPEG, encoded only when subscribed.
        self.compressed = self.create_publisher(CompressedImage, "image_raw/compressed", qos_profile_sensor_data)
        self.jpeg_quality = p["jpeg_quality"]
        self.diagnostics = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.published = 0
        self.lost = 0
        self.finished = False
        self.problem = ""  # why no frames flow now (camera missing or stopped), for logs and diagnostics
        self._awaiting: tuple | None = None  # (pixels, header) of the frame whose result lockstep awaits
        self._sent_at = 0.0
        self._published_at = float("-inf")  # when the last new frame went out
        self._started_at: float | None = None  # when the first one did
        self._attempts = 0
        self._partner_ready = False
        self._next_retry = 0.0
        if self.lockstep:
            self.create_subscription(FaceEmotionArray, self.results_topic, self._on_result, 10)
            self.timer = self.create_timer(0.01, self._lockstep_tick)
        else:
            self.timer = self.create_timer(1.0 / self.fps, self._timer_tick)
        self.create_timer(p["diagnostics_period"], self.publish_diagnostics)
        pace = f"{self.fps:.1f} Hz" if self.fps != float("inf") else "full speed"
        pace = f"lockstep with the emotion node, {pace} at most" if self.lockstep else pace
        start = f" once {self._awaited_reader()}" if self.video else ""
        self.get_logger().info(f"publishing {self._describe()} on {self.publisher.topic_name} at {pace}{start}")
        if self.capture is None:
            self._camera_lost(f"cannot open camera {self.device}")
        if not self.video:
            self._reader = threading.Thread(target=self._read_camera, name="fer_camera_reader", daemon=True)
            self._reader.start()

    def _describe(self) -> str:
        return f"video {self.video}" if self.video else f"camera {self.device}"

    def _awaited_reader(self) -> str:
        if self.lockstep:
            return f"a node reads it and publishes {self.results_topic} (the emotion node)"
        return "someone reads it"

    def _camera_lost(self, reason: str) -> None:
        self._release()
        self.problem = reason
        self._next_retry = time.monotonic() + self.retry_period
        self.get_logger().error(f"{reason}; retrying every {self.retry_period:g} s (connect the camera, "
                                f"choose another with device:=N, or play a file with video:=PATH)")
        self.publish_diagnostics()

    def _reopen_camera(self) -> bool:
        if time.monotonic() < self._next_retry:
            return False
        capture = open_capture(self.device)
        with self._capture_lock:
            self.capture = capture
        if self.capture is None:
            self._next_retry = time.monotonic() + self.retry_period
            return False
        self.problem = ""
        self.get_logger().info(f"camera {self.device} opened: publishing again")
        self.publish_diagnostics()
        return True

    def _timer_tick(self) -> None:
        """Not lockstep: the next frame at the source rate; a video file starts once someone
        reads it (a file has a beginning, and nothing is lost by waiting), a camera at once."""
        if not self.video or self.reader_ready():
            self.publish_frame()

    def _read(self) -> tuple[bool, object]:
        with self._capture_lock:
            if self.capture is None:
                return False, None
            ok, frame = self.capture.read()
            if not ok and self.video and self.loop:
                self.capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
                ok, frame = self.capture.read()
            return ok, frame

    def _release(self, timeout: float = -1) -> bool:
        """Close the source once no read runs (at most `timeout` s of waiting: a stuck camera is
        left open rather than released under a reading thread); True if released."""
        if not self._capture_lock.acquire(timeout=timeout):
            return False
        try:
            if self.capture is not None:
                self.capture.release()
                self.capture = None
        finally:
            self._capture_lock.release()
        return True

    def _read_camera(self) -> None:
        """The camera's reading thread: the newest frame for the timer, at most at `rate` (a
        camera's own read waits for its next frame anyway); reopens a lost camera."""
        period = 1.0 / self.fps
        while not self._stop_reading.is_set():
            if self.capture is None and not self._reopen_camera():
                self._stop_reading.wait(0.05)
                continue
            started = time.monotonic()
            ok, frame = self._read()
            if self._stop_reading.is_set():
                return
            if not ok:
                self._camera_lost(f"camera {self.device} stopped delivering frames")
                continue
            with self._newest_lock:
                self._newest = frame
            self._stop_reading.wait(max(0.0, period - (time.monotonic() - started)))

    def _next_file_frame(self):
        """A video file's next frame, or None at its end (said once, and the timer stops)."""
        ok, frame = self._read()
        if ok:
            return frame
        self.finished = True
        self.timer.cancel()
        seconds = time.monotonic() - self._started_at if self._started_at is not None else 0.0
        self.get_logger().info(f"end of {self.video} after {self.published} frames in {seconds:.1f} s; "
                               f"no more frames (Ctrl-C ends the graph; loop:=true plays it again)")
        return None

    def _take_newest(self):
        with self._newest_lock:
            frame, self._newest = self._newest, None
        return frame

    def publish_frame(self) -> None:
        frame = self._next_file_frame() if self.video else self._take_newest()
        if frame is None:
            return
        if self._started_at is None:
            self._started_at = time.monotonic()
        header = Header(stamp=self.get_clock().now().to_msg(), frame_id=self.frame_id)
        self._send(frame, header)
        self.published += 1
        if self.lockstep:
            self._awaiting, self._sent_at, self._attempts = (frame, header), time.monotonic(), 1
            self._published_at = self._sent_at

    def _send(self, frame, header: Header) -> None:
        """The frame on each transport someone subscribes to, as image_transport does: raw, and
        JPEG on image_raw/compressed (a fraction of the bandwidth, for a network link)."""
        if self.publisher.get_subscription_count() > 0:
            self.publisher.publish(array_to_image(frame, "bgr8", header))
        if self.compressed.get_subscription_count() > 0:
            self.compressed.publish(array_to_compressed(frame, "jpeg", header, self.jpeg_quality))

    def _due(self) -> bool:
        """Lockstep: the next frame may go out (1 / rate after the last one at the earliest)."""
        return time.monotonic() >= self._published_at + 1.0 / self.fps

    def reader_ready(self) -> bool:
        """Lockstep: true once one node both subscribes to our images and publishes
        `results_topic` (the emotion node creates its subscription after its models are loaded;
        a viewer or `ros2 topic hz` does not count). Otherwise: once anyone reads our images.
        Until then, a log line every few seconds says what the file waits for."""
        if not self._partner_ready:
            readers = {(i.node_name, i.node_namespace) for topic in (self.publisher, self.compressed)
                       for i in self.get_subscriptions_info_by_topic(topic.topic_name)}
            if self.lockstep:
                writers = {(i.node_name, i.node_namespace)
                           for i in self.get_publishers_info_by_topic(self.results_topic)}
                readers &= writers
            self._partner_ready = bool(readers)
            if not self._partner_ready:
                self.get_logger().info(f"waiting until {self._awaited_reader()} before playing {self.video}"
                                       + ("; lockstep:=false plays for any reader" if self.lockstep else ""),
                                       throttle_duration_sec=WAITING_LOG_PERIOD_S)
        return self._partner_ready

    def _lockstep_tick(self) -> None:
        if self.finished or not self.reader_ready():
            return
        if self._awaiting is None:
            if self._due():
                self.publish_frame()
        elif time.monotonic() - self._sent_at > self.lockstep_timeout:
            # Best effort can lose a frame (the first one, while discovery settles): resend it.
            if self._attempts < LOCKSTEP_ATTEMPTS:
                self._send(*self._awaiting)
                self._sent_at, self._attempts = time.monotonic(), self._attempts + 1
                return
            self.lost += 1
            self.get_logger().warning(f"no result for frame {self.published} after "
                                      f"{LOCKSTEP_ATTEMPTS} tries; moving on ({self.lost} lost)")
            self.publish_frame()

    def _on_result(self, msg: FaceEmotionArray) -> None:
        if self._awaiting is not None and msg.header.stamp == self._awaiting[1].stamp:
            self._awaiting = None
            if self._due():  # else the next tick sends it, on time
                self.publish_frame()

    def publish_diagnostics(self) -> None:
        if self.problem:
            level, message = DiagnosticStatus.ERROR, self.problem
        elif self.video and not self.finished and not self._partner_ready:
            level, message = DiagnosticStatus.OK, f"waiting until {self._awaited_reader()}"
        else:
            level, message = DiagnosticStatus.OK, "end of file" if self.finished else "publishing"
        values = {"source": self._describe(), "frames_published": self.published, "frames_lost": self.lost,
                  "rate": f"{self.fps:.1f}", "lockstep": self.lockstep}
        self.diagnostics.publish(diagnostic_array(self, level, message, values))

    def destroy_node(self) -> None:
        self._stop_reading.set()
        if self._reader is not None:
            self._reader.join(timeout=2.0)
        if not self._release(timeout=2.0):
            self.get_logger().warning("the video source is stuck in a read: left open")
        super().destroy_node()


def publishing_rate(rate: str, source_fps: float, lockstep: bool) -> float:
    """Frames per second from the `rate` parameter: the source's own (30 where it does not say),
    a number, or infinity for `max` (lockstep only)."""
    if rate == "source":
        return source_fps if 0 < source_fps <= 1000 else 30.0
    if rate == "max":
        if not lockstep:
            raise ParameterError("parameter 'rate': max needs lockstep (a video file with lockstep true)")
        return float("inf")
    try:
        value = float(rate)
    except ValueError:
        value = 0.0
    if not 0 < value <= 1000:
        raise ParameterError(f"parameter 'rate' must be source, max or a number in (0, 1000], got {rate!r}")
    return value


def main(args: list[str] | None = None) -> int:
    return run_node(CameraNode, args)
