"""fer-eval-bag: replay a labelled bag through the live node graph and score the results.

    fer-eval-bag BAG [--rate 1.0|max] [--json PATH] [--plot PATH] [--out RESULTS_BAG]
    fer-eval-bag --listen --truth BAG [--timeout S]    # while `ros2 bag play BAG` runs

Replay publishes the bag's images over DDS to the emotion node of fer_ros.ros.graph (built in
this process, with config/webcam.yaml): at the recorded rate times --rate (frames the node
cannot keep up with are dropped, as from a camera), or with --rate max one frame at a time,
each sent once the last was answered. Listen mode subscribes to the images and /fer/emotions
of a graph running elsewhere (e.g. `ros2 launch`), and measures latency from the image's
arrival to its result. It prints "first result received" when results start reaching it: a
player that warms the graph up with frames of its own can start the bag after that line, so
that no frame of the bag goes out before this listener is matched.
"""

import argparse
import json
import sys
import threading
import time
from pathlib import Path

from fer_msgs.msg import FaceEmotionArray
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import qos_profile_sensor_data
from rclpy.serialization import serialize_message
from rosbags.rosbag2 import StoragePlugin, Writer

from fer_ros.ros.graph import EMOTION, PARAMS_FILE, config_dir, use_shared_memory_profile
from fer_ros.ros.node_main import keep_going, run_nodes, spinning_in_threads, wait_until
from fer_ros.vision.labels import LABELS
from fer_training.bags.bag_format import (
    BAG_VERSION,
    GROUND_TRUTH_TOPIC,
    GROUND_TRUTH_TYPE,
    RESULT_TOPIC,
    BagError,
    LabelledBag,
    header_ns,
    read_labelled_bag,
    typestore,
)
from fer_training.bags.bag_report import ExpectedFace, FoundFace, score_replay

ANSWER_TIMEOUT_S = 5.0  # --rate max: resend a frame not answered within this (best effort)
ATTEMPTS = 3
TAIL_WAIT_S = 3.0  # after the last frame, how long results may still arrive
FIRST_RESULT_LINE = "first result received"


class Collector(Node):
    """Receives results (and, listening, the images) and notes when each arrived."""

    def __init__(self, image_topic: str | None = None, image_type: type | None = None):
        super().__init__("fer_eval_bag")
        self.lock = threading.Lock()
        self.results: dict[int, tuple[float, FaceEmotionArray]] = {}
        self.image_arrivals: dict[int, float] = {}
        self.last_activity = time.monotonic()
        self.create_subscription(FaceEmotionArray, RESULT_TOPIC, self.on_result, 1000)
        if image_topic:
            self.create_subscription(image_type, image_topic, self.on_image, qos_profile_sensor_data)

    def on_result(self, msg: FaceEmotionArray) -> None:
        with self.lock:
            first = not self.results
            self.results.setdefault(header_ns(msg), (time.monotonic(), msg))
            self.last_activity = time.monotonic()
        if first:  # a readiness signal for whoever plays the bag: results reach this listener now
            print(f"{FIRST_RESULT_LINE} (stamp {header_ns(msg)} ns)", flush=True)

    def on_image(self, msg) -> None:
        with self.lock:
            self.image_arrivals.setdefault(header_ns(msg), time.monotonic())
            self.last_activity = time.monotonic()

    def answered(self, stamp: int) -> bool:
        with self.lock:
            return stamp in self.results


def until_done(condition, timeout: float) -> bool:
    """`condition` polled until it holds, `timeout` passes or a stop is asked for (Ctrl-C, SIGTERM)."""
    wait_until(lambda: condition() or not keep_going(), timeout)
    return condition()


def replay(bag: LabelledBag, collector: Collector, rate: float | None) -> tuple[dict[int, float], float]:
    """Publish the bag's images; returns publish times by stamp and the replay's duration."""
    publisher = collector.create_publisher(bag.image_type, bag.image_topic, qos_profile_sensor_data)
    if not until_done(lambda: publisher.get_subscription_count() > 0, 30.0):
        raise RuntimeError(f"no subscriber on {bag.image_topic}")
    sent: dict[int, float] = {}
    start = time.monotonic()
    first_bag_time = bag.frames[0].bag_time_ns
    for frame in bag.frames:
        if rate is None:  # --rate max: one frame at a time, resent if lost
            for _ in range(ATTEMPTS):
                if not keep_going():  # Ctrl-C or SIGTERM
                    break
                sent.setdefault(frame.stamp_ns, time.monotonic())
                publisher.publish(frame.raw)
                if until_done(lambda s=frame.stamp_ns: collector.answered(s), ANSWER_TIMEOUT_S):
                    break
        else:
            due = start + (frame.bag_time_ns - first_bag_time) / 1e9 / rate
            time.sleep(max(0.0, due - time.monotonic()))
            if not keep_going():
                break
            sent[frame.stamp_ns] = time.monotonic()
            publisher.publish(frame.raw)
    until_done(lambda: all(collector.answered(s) for s in sent), TAIL_WAIT_S)
    with collector.lock:
        last = max([t for t, _ in collector.results.values()], default=time.monotonic())
    return sent, max(last - start, 1e-9)


def listen(bag: LabelledBag, collector: Collector, timeout: float) -> tuple[dict[int, float], float]:
    """Wait while someone plays the bag: until every frame is answered, or nothing has
    arrived for `timeout` seconds."""
    print(f"listening on {RESULT_TOPIC} and {bag.image_topic}: play the bag now "
          f"(ros2 bag play ...); Ctrl-C to stop", flush=True)
    stamps = {f.stamp_ns for f in bag.frames}
    start = time.monotonic()
    while keep_going():
        time.sleep(0.05)
        with collector.lock:
            idle = time.monotonic() - collector.last_activity
            done = all(s in collector.results for s in stamps)
            heard = bool(collector.results or collector.image_arrivals)
        if done or (heard and idle > timeout) or (not heard and time.monotonic() - start > 10 * timeout):
            break
    with collector.lock:  # the bag's frames only (a player may send others first, to warm up)
        arrivals = {s: t for s, t in collector.image_arrivals.items() if s in stamps}
        times = [t for s, (t, _) in collector.results.items() if s in stamps] + list(arrivals.values())
    return arrivals, (max(times) - min(times)) if times else 0.0


def replay_report(bag: LabelledBag, collector: Collector, sent: dict[int, float], seconds: float) -> dict:
    truth = {f.stamp_ns: [ExpectedFace(LABELS.index(label), (b.x_offset, b.y_offset, b.width, b.height))
                          for label, b in zip(f.truth.labels, f.truth.boxes)] for f in bag.frames}
    with collector.lock:
        received = dict(collector.results)
    results = {stamp: [FoundFace(face.label, (face.box.x_offset, face.box.y_offset, face.box.width,
                                              face.box.height)) for face in msg.faces]
               for stamp, (_, msg) in received.items() if stamp in truth}
    latencies = [(received[s][0] - t) * 1000.0 for s, t in sent.items() if s in received]
    frames_sent = len(sent) if sent else len(bag.frames)
    return score_replay(truth, results, frames_sent, latencies, seconds)


def write_results_bag(path: Path, bag: LabelledBag, collector: Collector) -> None:
    """/fer/emotions as received (bag time = arrival) and the answer key, for inspection."""
    store = typestore()
    offset_ns = time.time_ns() - int(time.monotonic() * 1e9)
    with Writer(path, version=BAG_VERSION, storage_plugin=StoragePlugin.MCAP) as writer:
        results = writer.add_connection(RESULT_TOPIC, "fer_msgs/msg/FaceEmotionArray", typestore=store)
        truths = writer.add_connection(GROUND_TRUTH_TOPIC, GROUND_TRUTH_TYPE, typestore=store)
        for frame in bag.frames:
            writer.write(truths, frame.stamp_ns, serialize_message(frame.truth))
        with collector.lock:
            received = sorted(collector.results.values(), key=lambda item: item[0])
        for arrived, msg in received:
            writer.write(results, offset_ns + int(arrived * 1e9), serialize_message(msg))


def print_report(report: dict) -> None:
    lat = report["latency_ms"]
    print(f"frames sent {report['frames_sent']}, answered {report['frames_answered']}, "
          f"dropped {report['dropped']}; faces expected {report['faces_expected']}, found "
          f"{report['faces_found']}\naccuracy {report['accuracy']:.4f} on found faces, "
          f"{report['accuracy_all']:.4f} counting misses\nlatency p50 {lat['p50']:.1f} ms, "
          f"p95 {lat['p95']:.1f}, p99 {lat['p99']:.1f}, max {lat['max']:.1f}; {report['fps']:.1f} fps")


def parse_rate(text: str) -> float | None:
    if text == "max":
        return None
    rate = float(text)
    if rate <= 0:
        raise argparse.ArgumentTypeError("--rate must be > 0 or 'max'")
    return rate


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("bag", nargs="?", type=Path, help="labelled bag to replay")
    p.add_argument("--rate", type=parse_rate, default=1.0, help="speed factor, or 'max' (default 1.0)")
    p.add_argument("--image-topic", help="image topic of the bag, when it has several")
    p.add_argument("--listen", action="store_true", help="do not replay: listen while the bag is played")
    p.add_argument("--truth", type=Path, help="labelled bag holding the answer key (--listen)")
    p.add_argument("--timeout", type=float, default=5.0, help="--listen: stop after this many idle seconds")
    p.add_argument("--detect-every", type=int, default=1,
                   help="the node's detect_every: 1 (default) for bags of unrelated stills, where a face "
                        "never stays put; the node's own setting (3) for bags of video")
    p.add_argument("--params", type=Path, help=f"node parameters (default config/{PARAMS_FILE})")
    p.add_argument("--json", type=Path, help="write the report here")
    p.add_argument("--plot", type=Path, help="write the confusion matrix PNG here")
    p.add_argument("--out", type=Path, help="record the results and answer key into this new bag")
    args = p.parse_args(argv)
    if args.listen != (args.truth is not None) or args.listen == (args.bag is not None):
        p.error("give either BAG, or --listen --truth BAG")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        bag = read_labelled_bag(args.truth or args.bag, args.image_topic)
    except BagError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    use_shared_memory_profile()
    collected: dict = {}

    def build(nodes: list[Node]) -> None:
        if not args.listen:
            overrides = [Parameter("image_topic", value=bag.image_topic),
                         Parameter("detect_every", value=args.detect_every)]
            nodes.append(EMOTION.load_class()(namespace=EMOTION.namespace, parameter_overrides=overrides))
        nodes.append(Collector(bag.image_topic, bag.image_type) if args.listen else Collector())

    def run(nodes: list[Node]) -> None:
        collector = nodes[-1]
        with spinning_in_threads(nodes):
            if args.listen:
                sent, seconds = listen(bag, collector, args.timeout)
            else:
                sent, seconds = replay(bag, collector, args.rate)
        if not keep_going():
            return  # interrupted: the figures would describe part of the bag only
        collected["report"] = replay_report(bag, collector, sent, seconds)
        if args.out:
            write_results_bag(args.out, bag, collector)

    code = run_nodes(build, run, ["--ros-args", "--params-file",
                                  str(args.params or config_dir() / PARAMS_FILE)])
    if code:
        return code
    if "report" not in collected:
        print("interrupted: no report written", file=sys.stderr)
        return 130
    report = collected["report"]
    report = {"bag": str(args.truth or args.bag), "mode": "listen" if args.listen else "replay",
              "rate": "max" if args.rate is None else args.rate, **report}
    print_report(report)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n")
    if args.plot:
        from fer_training.evaluation.plots import plot_confusion

        plot_confusion(report["confusion"], report["labels"], args.plot, f"fer-eval-bag {bag.image_topic}")
    return 0
