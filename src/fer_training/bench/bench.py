"""fer-bench: speed and memory of the vision core and of the node graph over real topics.

Frames are 640x480 pictures made from the bundled face photograph (one face, or four).
Component times: median over the frames after warm-up. End to end: the emotion node runs in
its own process (as under `ros2 launch`); this process publishes frames and receives results:
`fps` with frames fed as fast as results come back, latency (publish -> result) and drops with
a 30 Hz camera (the node as configured by config/webcam.yaml, clip stage included).
`clip_stage_ms_<model>`: the mean time per frame the clip stage adds with one tracked face.
`--soak N` feeds N frames and reports memory growth and error counts.

By default (`make bench`) the graph, the stage times and the detectors, with how long each part
took to measure (`bench_seconds_*`); `--fer-python` adds PyPI fer's rate on the same frames,
`--two-cameras` one emotion node fed by two cameras, `--range-faces 213` the detection-range
table, `--link` (root) the graph split over a 20 Mbit/s link, `--hri cropped|aligned` our
hri_expression node behind ROS4HRI's hri_face_detect: each reports its own time.
"""

import argparse
import json
import os
import platform
import subprocess
import time
from pathlib import Path

import cv2
import numpy as np

from fer_ros.ros.graph import CAMERA, EMOTIONS_TOPIC, use_shared_memory_profile
from fer_ros.ros.node_main import wait_until
from fer_ros.sample_clip import face_frame, face_photo
from fer_training.harness.node_process import start_emotion_node, start_node

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


def detector_times(repeat: int) -> dict:
    """Full-frame detection of each detector on the same one-face 640x480 frames; YuNet also on
    larger frames (shrunk to the node's `detect_max_side` first) and in the region around a
    tracked face (the box grown by half its size on every side, as `FaceAligner.follow`)."""
    from fer_ros.vision.detect import DETECTORS, FaceDetector

    frames = one_face_frames(60)
    times = {f"detect_{name}_ms": median_ms(FaceDetector(name).detect, frames, repeat) for name in DETECTORS}
    yunet = FaceDetector("yunet")
    for width, height in ((1280, 720), (1920, 1080)):
        times[f"detect_yunet_{width}x{height}_ms"] = median_ms(
            yunet.detect, [cv2.resize(f, (width, height)) for f in frames[:10]], repeat)
    regions = []
    for frame in frames:
        b = yunet.detect(frame)[0].box
        regions.append(frame[max(0, b.y - b.h // 2):b.y + b.h + b.h // 2, max(0, b.x - b.w // 2):b.x + b.w + b.w // 2])
    times["redetect_yunet_ms"] = median_ms(lambda r: yunet.detect(r, region=True), regions, repeat)
    return times


def component_times(repeat: int) -> dict:
    """Where one frame's time goes in the node, stage by stage, on the same one-face frames:
    message to array, eyes and alignment, classification, tracking, result message, clip stage
    (detection: `detector_times`)."""
    from fer_ros.nodes.emotion_node import PARAMETERS, emotions_message
    from fer_ros.ros.image_conversion import array_to_image, image_to_array, to_vision_order
    from fer_ros.vision.align import FaceAligner, align_face
    from fer_ros.vision.classify import EmotionClassifier
    from fer_ros.vision.detect import FaceDetector
    from fer_ros.vision.image_ops import to_grey
    from fer_ros.vision.pipeline import EmotionPipeline
    from fer_ros.vision.track import IouTracker

    # As the node runs by default (detector, eyes, int8 and mirror images), and each part alone.
    defaults = {name: spec.default for name, spec in PARAMETERS.items()}
    aligner = FaceAligner(FaceDetector(defaults["detector"]), eyes=defaults["eyes"])
    classifier = EmotionClassifier(flip=defaults["flip_tta"], precision=defaults["model_precision"])
    variants = {f"classify_{p}{'_flip' if f else ''}_ms": EmotionClassifier(flip=f, precision=p)
                for p in ("float", "int8") for f in (False, True)}
    frames = one_face_frames(60)
    messages = [array_to_image(f, "bgr8") for f in frames]
    detections = [(f, aligner.detector.detect(f)[0]) for f in frames]

    def align(pair):
        frame, detection = pair
        grey = to_grey(frame)
        return align_face(grey, *aligner.eye_centres(grey, detection))

    crops = [align(p) for p in detections]
    pipeline = EmotionPipeline(aligner, classifier)
    results = [pipeline.process(f) for f in frames]
    tracker = IouTracker()
    return {"convert_ms": median_ms(lambda m: to_vision_order(image_to_array(m), m.encoding), messages, repeat),
            "align_ms": median_ms(align, detections, repeat),
            "classify_ms": median_ms(lambda c: classifier.scores(c[None]), crops, repeat),
            "track_ms": median_ms(lambda r: tracker.update([f.face.box for f in r]), results, repeat),
            "message_ms": median_ms(lambda r: emotions_message(messages[0].header, classifier.labels, r, 0.0),
                                    results, repeat),
            **{name: median_ms(lambda c, m=model: m.scores(c[None]), crops, repeat)
               for name, model in variants.items()},
            **{f"clip_stage_ms_{name}": clip_stage_ms(aligner, classifier, name, repeat)
               for name in ("lstm", "c3d", "both")}}


def clip_stage_ms(aligner, classifier, clip_model: str, frames: int) -> float:
    """Mean time the clip stage adds per frame, one tracked face, the node's default length and stride."""
    from fer_ros.nodes.emotion_node import PARAMETERS, clip_stage_for
    from fer_ros.vision.pipeline import FaceResult

    params = {name: spec.default for name, spec in PARAMETERS.items()} | {"clip_model": clip_model}
    stage = clip_stage_for(params, classifier)
    faces = []
    for frame in one_face_frames(60):
        face = aligner.faces(frame)[0]
        scores, features = classifier.scores_and_feature_views([face.crop])
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
        self.process = start_emotion_node("-p", "image_topic:=/bench/image")
        rclpy.init()
        self.node = rclpy.create_node("fer_bench")
        self.executor = SingleThreadedExecutor()
        self.executor.add_node(self.node)
        self.publisher = self.node.create_publisher(Image, "/bench/image", qos_profile_sensor_data)
        self.answers: dict[int, float] = {}
        self.diagnostics: dict[str, str] = {}
        self.node.create_subscription(FaceEmotionArray, EMOTIONS_TOPIC, self._on_result, 1000)
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
        return wait_until(condition, timeout, lambda: self.executor.spin_once(timeout_sec=0.001))

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
        self.process.stop()


def end_to_end(frames: int) -> dict:
    from fer_ros.ros.image_conversion import array_to_image

    one = array_to_image(face_frame(0.0), "bgr8")
    four = array_to_image(four_face_frame(), "bgr8")
    graph = Graph(one)
    try:
        graph.lockstep(one, WARMUP)
        fps_1 = graph.lockstep(one, frames)
        latencies, dropped = graph.camera(one, frames, 30.0)
        graph.diagnostics.clear()  # the next one's median processing time covers these one-face frames
        graph.spin_until(lambda: "processing_time_ms" in graph.diagnostics, 5.0)
        processing_ms = float(graph.diagnostics.get("processing_time_ms", "nan"))
        graph.lockstep(four, WARMUP)
        fps_4 = graph.lockstep(four, frames)
        rss = rss_mb(graph.process.pid)
    finally:
        graph.close()
    return {"startup_s": graph.startup_s, "node_processing_ms": processing_ms, "idle_rss_mb": graph.idle_rss_mb,
            "e2e_fps_1face": fps_1,
            "e2e_p50_ms_1face": float(np.percentile(latencies, 50)),
            "e2e_p95_ms_1face": float(np.percentile(latencies, 95)), "e2e_fps_4faces": fps_4,
            "rss_mb": rss, "dropped_ratio": dropped}


def two_cameras(seconds: float) -> dict:
    """Two camera nodes (/cam_left, /cam_right) playing a one-face video at 30 Hz, as two live
    cameras, and one emotion node subscribed to both: results per second for each camera
    (told apart by header.frame_id) and the emotion node's resident memory."""
    import tempfile

    import rclpy
    from fer_msgs.msg import FaceEmotionArray
    from rclpy.executors import SingleThreadedExecutor

    from fer_ros.sample_clip import write_clip

    with tempfile.TemporaryDirectory() as folder:
        clip = write_clip(Path(folder) / "face.mp4", frames=60, fps=30.0)
        names = ("cam_left", "cam_right")
        cameras = [start_node(CAMERA.executable, "-r", f"__ns:=/{name}", "-p", f"video:={clip}",
                              "-p", "lockstep:=false", "-p", "loop:=true", "-p", f"frame_id:={name}")
                   for name in names]
        emotion = start_emotion_node("-p", f"image_topic:={','.join(f'/{n}/image_raw' for n in names)}")
        rclpy.init()
        node = rclpy.create_node("fer_bench_two_cameras")
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        arrivals: dict[str, list[float]] = {n: [] for n in names}
        ids: dict[str, set[int]] = {n: set() for n in names}

        def on_result(msg) -> None:
            if msg.header.frame_id in arrivals:
                arrivals[msg.header.frame_id].append(time.perf_counter())
                ids[msg.header.frame_id].update(f.track_id for f in msg.faces)

        node.create_subscription(FaceEmotionArray, EMOTIONS_TOPIC, on_result, 100)
        try:
            def spin() -> None:
                executor.spin_once(timeout_sec=0.01)

            wait_until(lambda: all(len(a) > 30 for a in arrivals.values()), 120, spin)  # started, warmed up
            start = time.perf_counter()
            wait_until(lambda: time.perf_counter() >= start + seconds, seconds + 1, spin)
            rss = rss_mb(emotion.pid)
        finally:
            executor.shutdown()
            node.destroy_node()
            rclpy.shutdown()
            for process in (*cameras, emotion):
                process.stop()
    fps = {n: sum(start <= t < start + seconds for t in a) / seconds for n, a in arrivals.items()}
    return {**{f"two_cameras_fps_{n}": v for n, v in fps.items()}, "two_cameras_emotion_rss_mb": rss,
            "two_cameras_ids_disjoint": not (ids[names[0]] & ids[names[1]])}


def link(frames: int) -> dict:
    """The split graph over two network namespaces joined by a veth pair limited to 20 Mbit/s:
    a one-face video at 30 Hz, frames answered per second and latency on the camera's side, for
    raw and compressed transport; and the bandwidth each transport needs at 30 Hz."""
    import tempfile

    from fer_ros.sample_clip import write_clip
    from fer_training.harness.two_hosts import can_make_namespaces, run_split, two_hosts

    reason = can_make_namespaces()
    if reason:
        raise RuntimeError(f"--link: {reason}")
    figures = {}
    with tempfile.TemporaryDirectory() as folder, two_hosts() as (robot, base):
        for transport, count in (("compressed", frames), ("raw", min(frames, 150))):
            clip = write_clip(Path(folder) / f"{transport}.mp4", frames=count, fps=30.0, period=60)
            run = run_split(robot, base, clip, transport, lockstep=False, domain_id=os.getpid() % 100 + 100,
                            out=Path(folder))
            figures |= {f"link_{transport}_answered_fps": run["answered_fps"],
                        f"link_{transport}_p50_ms": run["latency_p50_ms"],
                        f"link_{transport}_p95_ms": run["latency_p95_ms"],
                        f"link_{transport}_answered": f"{run['answered']} of {count}",
                        f"link_{transport}_mbit_s_at_30hz": run["robot_sent_mb"] * 8 / max(run["answered"], 1) * 30}
    return figures


def soak(frames: int) -> dict:
    from fer_ros.ros.image_conversion import array_to_image

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


FER_TIMING = """
import sys, time, cv2, numpy as np
from fer.fer import FER
frame = cv2.imread(sys.argv[1])
detector = FER(mtcnn=False)
for _ in range(10):
    detector.detect_emotions(frame)
times = []
for _ in range(100):
    start = time.perf_counter()
    detector.detect_emotions(frame)
    times.append(time.perf_counter() - start)
print(1.0 / float(np.median(times)))
"""


def pypi_fer_fps(python: Path) -> float:
    """End-to-end frames per second of PyPI's `fer` (`FER(mtcnn=False).detect_emotions`, median over
    100 calls) on the same one-face 640x480 frame, run by `python` (a venv with fer installed)."""
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "frame.png"
        cv2.imwrite(str(path), face_frame(0.0))
        result = subprocess.run([str(python), "-c", FER_TIMING, str(path)], capture_output=True, text=True,
                                timeout=600, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    if result.returncode != 0:
        raise RuntimeError(f"fer timing failed: {result.stderr.strip().splitlines()[-1:]}")
    return float(result.stdout.strip().splitlines()[-1])


def detection_range(data_dir: Path, limit: int | None) -> list[dict]:
    from fer_ros.nodes.emotion_node import PARAMETERS
    from fer_ros.vision.align import FaceAligner
    from fer_ros.vision.classify import EmotionClassifier
    from fer_ros.vision.detect import DETECTORS, FaceDetector
    from fer_training.bench.detection_range import range_table

    defaults = {name: spec.default for name, spec in PARAMETERS.items()}
    classifier = EmotionClassifier(flip=defaults["flip_tta"], precision=defaults["model_precision"])
    aligners = {name: FaceAligner(FaceDetector(name)) for name in DETECTORS}
    aligners["yunet, eyes: detector"] = FaceAligner(FaceDetector("yunet"), eyes="detector")
    return range_table(aligners, classifier, data_dir, limit)


def print_range(rows: list[dict]) -> None:
    print(f"\ndetection range ({rows[0]['n']} JAFFE faces per condition on cluttered frames):")
    print(f"{'detector':<22} {'condition':<20} {'distance':>8} {'found':>6} {'false/frame':>11} "
          f"{'eye error':>9} {'accuracy of found':>17}")
    for r in rows:
        print(f"{r['detector']:<22} {r['condition']:<20} {r['distance_m']:>6.1f} m {100 * r['found']:>5.1f}% "
              f"{r['false_per_frame']:>11.3f} {r['eye_error']:>9.3f} {100 * r['accuracy_of_found']:>16.1f}%")


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    return f"{platform.node()}: {cpu}, {os.cpu_count()} CPUs, Python {platform.python_version()}"


def main(argv: list[str] | None = None) -> int:
    from fer_training.data.fer2013 import default_data_dir

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--frames", type=int, default=300, help="measured frames per figure (after warm-up)")
    p.add_argument("--soak", type=int, default=0, metavar="N", help="instead: feed N frames, report memory")
    p.add_argument("--data-dir", type=Path, default=default_data_dir(), help="folder holding jaffe/ (range table)")
    p.add_argument("--range-faces", type=int, default=0,
                   help="also the detection-range table, with this many JAFFE faces per condition (213: all; "
                        "about 10 minutes here; 0: no table, the default)")
    p.add_argument("--two-cameras", action="store_true",
                   help="also one emotion node fed by two 30 Hz cameras (results a second, memory)")
    p.add_argument("--fer-python", type=Path,
                   help="a Python with PyPI's fer 25.10.3 installed: its end-to-end rate on the same frame")
    p.add_argument("--link", action="store_true",
                   help="instead: the graph split over two network namespaces and a 20 Mbit/s link (root)")
    p.add_argument("--hri", choices=("cropped", "aligned"),
                   help="instead: our hri_expression node (this face_image) behind ROS4HRI's real hri_face_detect "
                        "(make hri-face-detect first): JAFFE through it, latency, answered share, CPU (hri_chain.py)")
    p.add_argument("--hri-face-mesh", choices=("true", "false"), default="true",
                   help="with --hri: hri_face_detect's face_mesh parameter (MediaPipe's mesh for near faces)")
    p.add_argument("--json", type=Path, help="write the figures here")
    args = p.parse_args(argv)
    use_shared_memory_profile()
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    figures: dict = {"machine": machine()}

    def timed(name: str, measure) -> None:
        """The figures of one part, and how long it took to measure them."""
        started = time.monotonic()
        figures.update(measure())
        figures[f"bench_seconds_{name}"] = time.monotonic() - started

    if args.soak:
        timed("soak", lambda: soak(args.soak))
    elif args.link:
        timed("link", lambda: link(args.frames))
    elif args.hri:
        from fer_training.bench.hri_chain import hri_chain

        face_mesh = args.hri_face_mesh == "true"
        timed("hri", lambda: hri_chain(args.data_dir, args.range_faces, args.hri, face_mesh))
    else:
        timed("graph", lambda: end_to_end(args.frames))
        timed("stages", lambda: component_times(args.frames))
        timed("detectors", lambda: detector_times(args.frames))
        figures["transport_ms"] = figures["e2e_p50_ms_1face"] - figures["node_processing_ms"]
        if args.two_cameras:
            timed("two_cameras", lambda: two_cameras(10.0))
        if args.fer_python:
            timed("pypi_fer", lambda: {"pypi_fer_fps": pypi_fer_fps(args.fer_python)})
            figures["e2e_fps_1face_vs_pypi_fer"] = figures["e2e_fps_1face"] / figures["pypi_fer_fps"]
    width = max(map(len, figures))
    for key, value in figures.items():
        print(f"{key:<{width}}  {value:.2f}" if isinstance(value, float) else f"{key:<{width}}  {value}")
    if args.range_faces and not (args.soak or args.link or args.hri):
        started = time.monotonic()
        figures["range"] = detection_range(args.data_dir, args.range_faces)
        print_range(figures["range"])
        print(f"bench_seconds_range  {time.monotonic() - started:.1f}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1) + "\n")
    return 0
