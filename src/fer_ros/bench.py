"""fer-bench: speed and memory of the vision core and of the node graph over real topics.

Frames are 640x480 pictures made from the bundled face photograph (one face, or four).
Component times: median over the frames after warm-up. End to end: the emotion node runs in
its own process (as under `ros2 launch`); this process publishes frames and receives results:
`fps` with frames fed as fast as results come back, latency (publish -> result) and drops with
a 30 Hz camera (the node as configured by config/webcam.yaml, clip stage included).
`clip_stage_ms_<model>`: the mean time per frame the clip stage adds with one tracked face.
`--soak N` feeds N frames and reports memory growth and error counts.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from fer_ros.graph import PARAMS_FILE, config_dir, use_shared_memory_profile
from fer_ros.sample_clip import face_frame, face_photo

WARMUP = 30


def four_face_frame() -> np.ndarray:
    """Four heads (the photo's head and shoulders, mirrored and tilted) on a 640x480 frame."""
    head = face_photo()[20:260, 110:340]
    frame = np.full((480, 640, 3), 90, np.uint8)
    for i, (x, y) in enumerate([(40, 0), (360, 0), (40, 240), (360, 240)]):
        tile = head[:, ::-1] if i % 2 else head
        m = cv2.getRotationMatrix2D((tile.shape[1] / 2, tile.shape[0] / 2), (-1) ** i * 5, 1.0)
        frame[y:y + 240, x:x + 230] = cv2.warpAffine(np.ascontiguousarray(tile), m, (230, 240),
                                                     borderMode=cv2.BORDER_REPLICATE)
    return frame


def one_face_frames(n: int) -> list[np.ndarray]:
    return [face_frame(i / 60) for i in range(min(n, 60))]


def median_ms(fn, frames: list, repeat: int) -> float:
    times = []
    for i in range(WARMUP + repeat):
        arg = frames[i % len(frames)]
        start = time.perf_counter()
        fn(arg)
        if i >= WARMUP:
            times.append((time.perf_counter() - start) * 1000.0)
    return float(np.median(times))


def component_times(repeat: int) -> dict:
    from fer_ros.align import FaceAligner, align_face
    from fer_ros.classify import EmotionClassifier
    from fer_ros.emotion_node import PARAMETERS
    from fer_ros.image_ops import to_grey

    # As the node runs by default (int8 and mirror images for the shipped model), and each part alone.
    defaults = {name: PARAMETERS[name].default for name in ("flip_tta", "model_precision")}
    aligner, classifier = FaceAligner(), EmotionClassifier(flip=defaults["flip_tta"],
                                                            precision=defaults["model_precision"])
    variants = {f"classify_{p}{'_flip' if f else ''}_ms": EmotionClassifier(flip=f, precision=p)
                for p in ("float", "int8") for f in (False, True)}
    greys = [to_grey(f) for f in one_face_frames(60)]
    boxes = [aligner.detector.detect(g)[0] for g in greys]
    pairs = list(zip(greys, boxes))

    def align(pair):
        grey, box = pair
        left, right = aligner.eyes.locate(grey, box)
        return align_face(grey, left, right)

    crops = [align(p) for p in pairs]
    return {"detect_ms": median_ms(aligner.detector.detect, greys, repeat),
            "align_ms": median_ms(align, pairs, repeat),
            "classify_ms": median_ms(lambda c: classifier.scores(c[None]), crops, repeat),
            **{name: median_ms(lambda c, m=model: m.scores(c[None]), crops, repeat)
               for name, model in variants.items()},
            **{f"clip_stage_ms_{name}": clip_stage_ms(aligner, classifier, name, repeat)
               for name in ("lstm", "c3d", "both")}}


def clip_stage_ms(aligner, classifier, clip_model: str, frames: int) -> float:
    """Mean time the clip stage adds per frame, one tracked face, the node's default length and stride."""
    from fer_ros.emotion_node import PARAMETERS, EmotionNode
    from fer_ros.pipeline import FaceResult

    params = {name: spec.default for name, spec in PARAMETERS.items()} | {"clip_model": clip_model}
    stage = EmotionNode._clip_stage(params, classifier)
    faces = []
    for frame in one_face_frames(60):
        face = aligner.faces(frame)[0]
        scores, features = classifier.scores_and_features([face.crop])
        faces.append([FaceResult(1, face, "", 0.0, scores[0], features[0] if stage.needs_features else None)])
    for i in range(WARMUP):
        stage.process(faces[i % len(faces)], i)
    start = time.perf_counter()
    for i in range(frames):
        stage.process(faces[i % len(faces)], i)
    return (time.perf_counter() - start) * 1000.0 / frames


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024.0
    return 0.0


class Graph:
    """The emotion node in a process of its own, and a driver node here. `startup_s`: from the
    node's process start to its first result (one frame sent every 0.2 s until answered);
    `idle_rss_mb`: its resident memory 5 s later, nothing sent meanwhile."""

    def __init__(self, first_frame):
        import rclpy
        from diagnostic_msgs.msg import DiagnosticArray
        from fer_msgs.msg import FaceEmotionArray
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.qos import qos_profile_sensor_data
        from sensor_msgs.msg import Image

        started = time.perf_counter()
        self.process = subprocess.Popen(
            [str(Path(sys.executable).parent / "emotion_node"), "--ros-args", "--params-file",
             str(config_dir() / PARAMS_FILE), "-r", "__ns:=/fer", "-p", "image_topic:=/bench/image"],
            env=dict(os.environ), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        rclpy.init()
        self.node = rclpy.create_node("fer_bench")
        self.executor = SingleThreadedExecutor()
        self.executor.add_node(self.node)
        self.publisher = self.node.create_publisher(Image, "/bench/image", qos_profile_sensor_data)
        self.answers: dict[int, float] = {}
        self.diagnostics: dict[str, str] = {}
        self.node.create_subscription(FaceEmotionArray, "/fer/emotions", self._on_result, 1000)
        self.node.create_subscription(DiagnosticArray, "/diagnostics", self._on_diagnostics, 10)
        self.stamp_ns = time.time_ns()
        self.spin_until(lambda: self.publisher.get_subscription_count() > 0, 120)
        while not self.answers and time.perf_counter() < started + 120:
            self.publish(first_frame)
            self.spin_until(lambda: bool(self.answers), 0.2)
        self.startup_s = min(self.answers.values(), default=float("nan")) - started
        self.spin_until(lambda: False, 5.0)
        self.idle_rss_mb = rss_mb(self.process.pid)
        self.answers.clear()

    def _on_result(self, msg) -> None:
        self.answers[msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec] = time.perf_counter()

    def _on_diagnostics(self, msg) -> None:
        for status in msg.status:
            if status.hardware_id == "/fer/emotion":
                self.diagnostics = {kv.key: kv.value for kv in status.values}

    def spin_until(self, condition, timeout: float) -> bool:
        deadline = time.perf_counter() + timeout
        while not condition() and time.perf_counter() < deadline:
            self.executor.spin_once(timeout_sec=0.001)
        return condition()

    def publish(self, msg) -> int:
        self.stamp_ns += 1_000_000
        msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(self.stamp_ns, 1_000_000_000)
        self.publisher.publish(msg)
        return self.stamp_ns

    def lockstep(self, msg, n: int) -> float:
        """Frames per second when each frame is sent as soon as the last one is answered."""
        start = time.perf_counter()
        for _ in range(n):
            stamp = self.publish(msg)
            if not self.spin_until(lambda s=stamp: s in self.answers, 5.0):
                continue  # lost on the way (best effort): the next one goes out
        return n / (time.perf_counter() - start)

    def camera(self, msg, n: int, rate: float) -> tuple[list[float], float]:
        """Latencies (ms) and dropped ratio with frames published at `rate` Hz."""
        sent: dict[int, float] = {}
        start = time.perf_counter()
        for i in range(n):
            self.spin_until(lambda i=i: time.perf_counter() >= start + i / rate, 1.0)
            stamp = self.publish(msg)
            sent[stamp] = time.perf_counter()
        self.spin_until(lambda: all(s in self.answers for s in sent), 2.0)
        latencies = [(self.answers[s] - t) * 1000.0 for s, t in sent.items() if s in self.answers]
        return latencies, 1.0 - len(latencies) / n

    def close(self) -> None:
        import rclpy

        self.executor.shutdown()
        self.node.destroy_node()
        rclpy.shutdown()
        self.process.terminate()
        self.process.wait(timeout=20)


def end_to_end(frames: int) -> dict:
    from fer_ros.image_conversion import array_to_image

    one = array_to_image(face_frame(0.0), "bgr8")
    four = array_to_image(four_face_frame(), "bgr8")
    graph = Graph(one)
    try:
        graph.lockstep(one, WARMUP)
        fps_1 = graph.lockstep(one, frames)
        latencies, dropped = graph.camera(one, frames, 30.0)
        graph.lockstep(four, WARMUP)
        fps_4 = graph.lockstep(four, frames)
        rss = rss_mb(graph.process.pid)
    finally:
        graph.close()
    return {"startup_s": graph.startup_s, "idle_rss_mb": graph.idle_rss_mb, "e2e_fps_1face": fps_1,
            "e2e_p50_ms_1face": float(np.percentile(latencies, 50)),
            "e2e_p95_ms_1face": float(np.percentile(latencies, 95)), "e2e_fps_4faces": fps_4,
            "rss_mb": rss, "dropped_ratio": dropped}


def soak(frames: int) -> dict:
    from fer_ros.image_conversion import array_to_image

    msgs = [array_to_image(f, "bgr8") for f in one_face_frames(60)]
    graph = Graph(msgs[0])
    try:
        for i in range(500):
            graph.lockstep(msgs[i % len(msgs)], 1)
        start_rss = rss_mb(graph.process.pid)
        start = time.perf_counter()
        for i in range(frames):
            graph.lockstep(msgs[i % len(msgs)], 1)
        end_rss = rss_mb(graph.process.pid)
        answered = len(graph.answers)
        seconds = time.perf_counter() - start
        graph.spin_until(lambda: int(graph.diagnostics.get("frames_processed", 0)) >= answered, 3.0)
        node_figures = {k: graph.diagnostics.get(k, "?") for k in ("frames_processed", "frames_dropped",
                                                                    "errors_total")}
    finally:
        graph.close()
    return {"soak_frames": frames, "soak_seconds": seconds, "soak_answered": answered - 500,
            "rss_after_warmup_mb": start_rss, "rss_end_mb": end_rss, "rss_growth_mb": end_rss - start_rss,
            **{f"node_{k}": v for k, v in node_figures.items()}}


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    return f"{platform.node()}: {cpu}, {os.cpu_count()} CPUs, Python {platform.python_version()}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--frames", type=int, default=300, help="measured frames per figure (after warm-up)")
    p.add_argument("--soak", type=int, default=0, metavar="N", help="instead: feed N frames, report memory")
    p.add_argument("--json", type=Path, help="write the figures here")
    args = p.parse_args(argv)
    use_shared_memory_profile()
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    figures = {"machine": machine()}
    if args.soak:
        figures.update(soak(args.soak))
    else:
        figures.update(end_to_end(args.frames))
        figures.update(component_times(args.frames))
    width = max(map(len, figures))
    for key, value in figures.items():
        print(f"{key:<{width}}  {value:.2f}" if isinstance(value, float) else f"{key:<{width}}  {value}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1) + "\n")
    return 0
