"""`fer-bench --hri`: our hri_expression node behind ROS4HRI's real hri_face_detect (its venv
built by `make hri-face-detect`), each in a process of its own, as `ros2 launch fer_ros
hri.launch.py` runs them; this process plays the camera and a reader that listens as libhri does.

- JAFFE through the chain: each of the 213 photos on a 640x480 grey frame, sent at 15 Hz until
  the node answers a frame of it (hri_face_detect lists a face from its 4th frame, then crops
  it); the first answer per photo, against our own front end (the emotion node's detector,
  aligner and classifier) on the same frame.
- 1 and 4 faces at 30 Hz: per face listed in a `tracked` message, whether its Expression for
  that frame came, the latency from the image stamp to its arrival here, and each process's
  CPU time over the stream.
"""

import time
from pathlib import Path

import numpy as np

from fer_ros.ros.hri_faces import EXPRESSIONS
from fer_ros.sample_clip import face_frame
from fer_training.harness.hri_face_detect import HRI_VENV, activate, start_hri_face_detect, unavailable_reason
from fer_training.harness.node_process import NodeProcess

CAMERA = "/hri_bench/image_raw"


def on_canvas(image: np.ndarray) -> np.ndarray:
    """A 256x256 photo in the middle of a 640x480 grey bgr frame."""
    frame = np.full((480, 640, 3), 90, np.uint8)
    h, w = image.shape[:2]
    y, x = (480 - h) // 2, (640 - w) // 2
    frame[y:y + h, x:x + w] = image[..., None] if image.ndim == 2 else image
    return frame


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    import os

    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Chain:
    """hri_face_detect and our node running, a probe node here that publishes frames and
    collects `tracked` lists and every listed id's Expressions (arrival times)."""

    def __init__(self, face_image: str, venv: Path, face_mesh: bool = True):
        import hri_msgs.msg as hri
        import rclpy
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.qos import qos_profile_system_default
        from sensor_msgs.msg import Image

        reason = unavailable_reason(venv)
        if reason:
            raise RuntimeError(reason)
        self.hri, self.qos = hri, qos_profile_system_default
        self.detect = start_hri_face_detect(CAMERA, "deterministic_ids:=true", f"face_mesh:={str(face_mesh).lower()}",
                                            venv=venv)
        self.ours = NodeProcess(["hri_expression", "--ros-args", "-p", "managed:=false", "-p",
                                 f"face_image:={face_image}"])
        rclpy.init()
        self.node = rclpy.create_node("hri_bench")
        self.executor = SingleThreadedExecutor()
        self.executor.add_node(self.node)
        if not activate(self.node, self.spin_once) or not self.ours.wait_for("listening on", 120):
            self.close()
            raise RuntimeError("hri_face_detect or hri_expression did not start:\n"
                               f"{self.detect.output[-2000:]}\n{self.ours.output[-2000:]}")
        self.camera = self.node.create_publisher(Image, CAMERA, 1)
        self.lists: dict[tuple[int, int], list[str]] = {}  # stamp -> ids listed for that frame
        self.answers: dict[tuple[str, tuple[int, int]], tuple[str, float]] = {}  # (id, stamp) -> (expr, arrival s)
        self._followed: set[str] = set()
        self.node.create_subscription(hri.IdsList, "/humans/faces/tracked", self._on_tracked, self.qos)

    def spin_once(self) -> None:
        self.executor.spin_once(timeout_sec=0.002)

    def _on_tracked(self, msg) -> None:
        self.lists[(msg.header.stamp.sec, msg.header.stamp.nanosec)] = list(msg.ids)
        for fid in msg.ids:
            if fid not in self._followed:
                self._followed.add(fid)
                self.node.create_subscription(self.hri.Expression, f"/humans/faces/{fid}/expression",
                                              lambda m, fid=fid: self._on_expression(fid, m), self.qos)

    def _on_expression(self, fid: str, msg) -> None:
        stamp = (msg.header.stamp.sec, msg.header.stamp.nanosec)
        self.answers[(fid, stamp)] = (msg.expression, time.time())

    def send(self, frame: np.ndarray) -> tuple[int, int]:
        from fer_ros.ros.image_conversion import array_to_image

        msg = array_to_image(frame, "bgr8")
        msg.header.stamp, msg.header.frame_id = self.node.get_clock().now().to_msg(), "hri_bench"
        self.camera.publish(msg)
        return msg.header.stamp.sec, msg.header.stamp.nanosec

    def pace(self, until: float) -> None:
        while time.monotonic() < until:
            self.spin_once()

    def close(self) -> None:
        import rclpy

        self.ours.stop()
        self.detect.stop()
        self.node.destroy_node()
        rclpy.try_shutdown()


def jaffe_through_chain(chain: Chain, data_dir: Path, limit: int | None) -> dict:
    """The first answer per JAFFE photo against our own front end on the same frame."""
    from fer_ros.vision.align import FaceAligner
    from fer_ros.vision.classify import EmotionClassifier
    from fer_ros.vision.detect import FaceDetector
    from fer_ros.vision.labels import LABELS
    from fer_ros.vision.pipeline import classify_faces
    from fer_training.data.labelled_images import labelled_images

    aligner, classifier = FaceAligner(FaceDetector("yunet")), EmotionClassifier(flip=True)
    by_constant = {constant: LABELS.index(label) for label, constant in EXPRESSIONS.items()}
    chain_right = ours_right = answered = ours_found = total = 0
    for item in list(labelled_images("jaffe", data_dir))[:limit]:
        frame, total = on_canvas(item.image), total + 1
        faces = aligner.faces(frame)[:1]
        if faces:
            ours_found += 1
            ours_right += classify_faces(classifier, faces, [1])[0].label == LABELS[item.label]
        stamps: set = set()
        deadline = time.monotonic() + 10.0
        answer = None
        while answer is None and time.monotonic() < deadline:
            stamps.add(chain.send(frame))
            chain.pace(time.monotonic() + 1 / 15)
            answer = next((e for (fid, s), (e, _) in chain.answers.items() if s in stamps), None)
        if answer is not None:
            answered += 1
            chain_right += by_constant[answer] == item.label
    return {"hri_jaffe_photos": total, "hri_jaffe_answered": answered, "hri_jaffe_accuracy": chain_right / total,
            "ours_jaffe_found": ours_found, "ours_jaffe_accuracy": ours_right / total}


def stream(chain: Chain, frame: np.ndarray, seconds: float, rate: float = 30.0) -> dict:
    """`frame` at `rate` Hz for `seconds` after 3 s of warm-up: answered share of the listed
    face-frames, latency p50/p95 (image stamp to arrival here), CPU share of each process."""
    chain.answers.clear()
    start = time.monotonic()
    while time.monotonic() - start < 3.0:  # ids listed, subscriptions made
        chain.send(frame)
        chain.pace(time.monotonic() + 1 / rate)
    chain.lists.clear()
    chain.answers.clear()
    cpu = {"hri_face_detect": cpu_seconds(chain.detect.pid), "hri_expression": cpu_seconds(chain.ours.pid)}
    sent, begin = [], time.monotonic()
    while time.monotonic() - begin < seconds:
        sent.append(chain.send(frame))
        chain.pace(begin + len(sent) / rate)
    wall = time.monotonic() - begin
    chain.pace(time.monotonic() + 1.0)  # the last answers
    cpu = {name: (cpu_seconds(pid) - cpu[name]) / wall for name, pid in
           (("hri_face_detect", chain.detect.pid), ("hri_expression", chain.ours.pid))}
    listed = [(fid, stamp) for stamp in sent for fid in chain.lists.get(stamp, [])]
    latencies = [(chain.answers[key][1] - (key[1][0] + key[1][1] * 1e-9)) * 1000 for key in listed
                 if key in chain.answers]
    return {"frames_sent": len(sent), "frames_listed_by_hri_face_detect": sum(s in chain.lists for s in sent),
            "face_frames_listed": len(listed), "face_frames_answered": len(latencies),
            "answered_share": len(latencies) / max(len(listed), 1),
            "latency_p50_ms": float(np.percentile(latencies, 50)) if latencies else float("nan"),
            "latency_p95_ms": float(np.percentile(latencies, 95)) if latencies else float("nan"),
            "cpu_share_hri_face_detect": cpu["hri_face_detect"], "cpu_share_hri_expression": cpu["hri_expression"]}


def hri_chain(data_dir: Path, jaffe_limit: int, face_image: str = "cropped", face_mesh: bool = True,
              venv: Path = HRI_VENV, seconds: float = 20.0) -> dict:
    """Every figure of this module, flat, prefixed hri_ (`face_mesh`: hri_face_detect's parameter;
    JAFFE: its first `jaffe_limit` photos, none at 0)."""
    from fer_training.bench.bench import four_face_frame

    chain = Chain(face_image, venv, face_mesh)
    try:
        figures = {"hri_face_image": face_image, "hri_face_mesh": face_mesh}
        for faces, frame in ((1, face_frame(0.5)), (4, four_face_frame())):
            figures.update({f"hri_{k}_{faces}face": v for k, v in stream(chain, frame, seconds).items()})
        if jaffe_limit and (data_dir / "jaffe" / "labels.csv").is_file():
            figures.update(jaffe_through_chain(chain, data_dir, jaffe_limit))
        return figures
    finally:
        chain.close()
