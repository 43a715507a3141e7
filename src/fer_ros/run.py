"""fer-run: the webcam graph of launch/webcam.launch.py in one process (the pip path).

The nodes are those of `fer_ros.ros.graph.GRAPH` with the parameters of config/webcam.yaml,
talking over real topics; a listener prints a status line a second and writes results.
"""

import argparse
import json
import math
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np
from fer_msgs.msg import ClipEmotion, FaceEmotionArray
from rclpy.node import Node
from rclpy.parameter import Parameter
from sensor_msgs.msg import Image

from fer_ros.ros.graph import (
    ANNOTATED_TOPIC,
    CAMERA,
    CLIP_EMOTIONS_TOPIC,
    EMOTION,
    EMOTIONS_TOPIC,
    GRAPH,
    OPTIONAL,
    PARAMS_FILE,
    config_dir,
    use_shared_memory_profile,
)
from fer_ros.ros.image_conversion import image_to_array
from fer_ros.ros.node_main import keep_going, run_nodes, spinning_in_threads
from fer_ros.ros.video_source import open_capture
from fer_ros.sample_clip import SAMPLE_CLIP


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = p.add_mutually_exclusive_group()
    source.add_argument("--camera", type=int, metavar="N", help="camera device index")
    source.add_argument("--video", type=Path, metavar="PATH", help="video file to process")
    p.add_argument("--frames", type=int, default=0, metavar="N", help="stop after N processed frames")
    p.add_argument("--realtime", action="store_true",
                   help="play a video at its own rate, dropping frames like a live camera "
                        "(default: every frame is processed)")
    p.add_argument("--rate", default="source", metavar="HZ",
                   help="frames per second: source (the video's own, default), a number, or max (every frame "
                        "as soon as the last one was answered)")
    p.add_argument("--nodes", choices=("all", "camera"), default="all",
                   help="camera: start the camera and the result listener only, the emotion node runs on another "
                        "computer (launch file's nodes:=emotion, same ROS_DOMAIN_ID)")
    p.add_argument("--transport", choices=("raw", "compressed"), default="raw",
                   help="how images reach the emotion node (compressed: JPEG on /camera/image_raw/compressed)")
    p.add_argument("--record", type=Path, metavar="PATH", help="write the annotated video here")
    p.add_argument("--json", type=Path, metavar="PATH", help="one JSON line per processed frame")
    p.add_argument("--hri", action="store_true", help="also publish ROS4HRI faces (/humans/faces/...)")
    p.add_argument("--reactions", action="store_true",
                   help="also run the example behaviour node emotion_reactions (/fer/reactions)")
    p.add_argument("--params", type=Path, default=None,
                   help=f"parameter file (default: config/{PARAMS_FILE})")
    return p.parse_args(argv)


def stamp_seconds(msg: FaceEmotionArray) -> float:
    return msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9


def result_line(msg: FaceEmotionArray) -> dict:
    """The --json record of one processed frame."""
    return {"stamp": stamp_seconds(msg), "faces": [
        {"track_id": f.track_id, "box": [f.box.x_offset, f.box.y_offset, f.box.width, f.box.height],
         "label": f.label, "confidence": round(float(f.confidence), 4),
         "scores": [round(float(s), 4) for s in f.scores]} for f in msg.faces]}


class ResultListener(Node):
    """Receives /fer/emotions (and the annotated image when recording), like any robot
    behaviour would, and keeps the figures for the status line."""

    def __init__(self, json_path: Path | None, record_path: Path | None, record_fps: float,
                 max_frames: int = 0):
        super().__init__("fer_run_listener")
        self.max_frames = max_frames
        self.started = time.monotonic()
        self.count = 0
        self.latencies_ms: list[float] = []
        self.last: FaceEmotionArray | None = None
        self.lock = threading.Lock()
        self._json = open(json_path, "w") if json_path else None
        self._record_path, self._record_fps, self._writer = record_path, record_fps, None
        self.last_clip: ClipEmotion | None = None
        self.create_subscription(FaceEmotionArray, EMOTIONS_TOPIC, self.on_result, 100)
        self.create_subscription(ClipEmotion, CLIP_EMOTIONS_TOPIC, self.on_clip, 100)
        if record_path:
            self.create_subscription(Image, ANNOTATED_TOPIC, self.on_annotated, 10)

    def on_result(self, msg: FaceEmotionArray) -> None:
        latency = time.time() * 1000.0 - stamp_seconds(msg) * 1000.0
        if self.max_frames and self.count >= self.max_frames:
            return  # the camera may already have sent the next frame: not part of this run
        with self.lock:
            self.count += 1
            self.latencies_ms.append(latency)
            self.last = msg
        if self._json:
            self._json.write(json.dumps(result_line(msg) | {"latency_ms": round(latency, 2)}) + "\n")
            self._json.flush()

    def on_clip(self, msg: ClipEmotion) -> None:
        with self.lock:
            self.last_clip = msg

    def on_annotated(self, msg: Image) -> None:
        frame = image_to_array(msg)
        if self._writer is None:
            self._writer = cv2.VideoWriter(str(self._record_path), cv2.VideoWriter_fourcc(*"mp4v"),
                                           self._record_fps, (frame.shape[1], frame.shape[0]))
        self._writer.write(frame)

    def destroy_node(self) -> None:
        if self._json:
            self._json.close()
        if self._writer is not None:
            self._writer.release()
        super().destroy_node()


def status_line(listener: ResultListener, since_count: int, seconds: float) -> str:
    with listener.lock:
        fps = (listener.count - since_count) / seconds
        recent = listener.latencies_ms[-max(1, listener.count - since_count):]
        last, clip = listener.last, listener.last_clip
    faces = "no result yet" if last is None else f"{len(last.faces)} face(s)" + "".join(
        f" #{f.track_id} {f.label} {f.confidence:.2f}" for f in last.faces)
    latency = f"{np.median(recent):.0f} ms" if recent else "-"
    clip_text = "" if clip is None else f" | clip #{clip.track_id} {clip.model} {clip.label} {clip.confidence:.2f}"
    return f"[fer-run] {fps:5.1f} fps | latency p50 {latency} | {faces}{clip_text}"


def choose_source(args: argparse.Namespace) -> tuple[dict, str]:
    """Camera parameters for the chosen source, and a sentence saying what it is."""
    if args.video is not None:
        if not args.video.is_file():
            raise FileNotFoundError(f"video file not found: {args.video}")
        return {"video": str(args.video), "lockstep": not args.realtime, "rate": args.rate}, f"video {args.video}"
    index = args.camera if args.camera is not None else 0
    capture = open_capture(index)
    if capture is not None:
        capture.release()
        return {"device": index, "video": "", "rate": args.rate}, f"camera {index}"
    if args.camera is not None:
        raise OSError(f"cannot open camera {index}")
    return ({"video": str(SAMPLE_CLIP), "lockstep": not args.realtime, "rate": args.rate},
            f"no camera found: using the bundled sample clip {SAMPLE_CLIP}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    config = config_dir()
    use_shared_memory_profile()  # before rclpy starts DDS: large frames need it
    params = args.params or config / PARAMS_FILE
    try:
        camera_params, description = choose_source(args)
    except OSError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"[fer-run] source: {description}", flush=True)

    built: dict[str, Node] = {}

    def build(nodes: list[Node]) -> None:
        topic = "/camera/image_raw" + ("/compressed" if args.transport == "compressed" else "")
        overrides = {CAMERA: camera_params, EMOTION: {"hri": args.hri, "image_topic": topic}}
        for spec in GRAPH:  # as the launch file does
            if spec in OPTIONAL and not getattr(args, OPTIONAL[spec]) or args.nodes == "camera" and spec != CAMERA:
                continue
            node = spec.load_class()(namespace=spec.namespace, parameter_overrides=[
                Parameter(k, value=v) for k, v in overrides.get(spec, {}).items()])
            nodes.append(node)
            built[spec.name] = node
        fps = built["camera"].fps
        built["listener"] = ResultListener(args.json, args.record, fps if math.isfinite(fps) else 30.0, args.frames)
        nodes.append(built["listener"])

    def spin(nodes: list[Node]) -> None:
        spin_until_done(nodes, built["camera"], built["listener"], args.frames)

    code = run_nodes(build, spin, ["--ros-args", "--params-file", str(params)])
    if "listener" in built and code == 0:
        summary(built["listener"])
    return code


def spin_until_done(nodes: list[Node], camera, listener: ResultListener, max_frames: int) -> None:
    """Spin the nodes until N frames are processed, or the video has ended and its results
    are in; print a status line a second meanwhile."""
    with spinning_in_threads(nodes) as failures:
        watch(camera, listener, max_frames, failures)


def watch(camera, listener: ResultListener, max_frames: int, failures: list) -> None:
    """Print a status line a second until the run is done, or a node has failed."""
    last_print = time.monotonic()
    printed_count = 0
    ended_at = None
    while keep_going() and not failures:
        time.sleep(0.02)
        now = time.monotonic()
        if now - last_print >= 1.0:
            print(status_line(listener, printed_count, now - last_print), flush=True)
            printed_count, last_print = listener.count, now
        if max_frames and listener.count >= max_frames:
            break
        if camera.finished:
            ended_at = ended_at or now
            # Results of the last frames may still be on their way.
            if listener.count >= camera.published - camera.lost or now - ended_at > 2.0:
                break
    if listener.count > printed_count:  # the frames since the last status line
        print(status_line(listener, printed_count, time.monotonic() - last_print), flush=True)


def summary(listener: ResultListener) -> None:
    lat = np.array(listener.latencies_ms) if listener.latencies_ms else np.zeros(1)
    elapsed = time.monotonic() - listener.started
    print(f"[fer-run] {listener.count} frames processed in {elapsed:.1f} s "
          f"({listener.count / max(elapsed, 1e-9):.1f} fps); latency p50 "
          f"{np.percentile(lat, 50):.0f} ms, p95 {np.percentile(lat, 95):.0f} ms", flush=True)
