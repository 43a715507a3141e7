"""Labelled rosbag2 files: written by fer-make-bag, read back with rosbags, replayed by
fer-eval-bag through the emotion node over real DDS."""

import csv
import json
import os
import shutil
import subprocess

import cv2
import numpy as np
import pytest
from fer_msgs.msg import FaceEmotionArray, GroundTruth
from rclpy.qos import qos_profile_sensor_data
from rclpy.serialization import deserialize_message
from ros_helpers import resend_until, ros_node, running, spin_until, wait_for_line
from rosbags.rosbag2 import Reader
from sensor_msgs.msg import Image
from shipped_faces import face_photos
from test_run import run

from fer_ros.ros.image_conversion import image_to_array
from fer_ros.vision.align import FaceAligner
from fer_ros.vision.classify import EmotionClassifier
from fer_ros.vision.labels import LABELS
from fer_training.bags.bag_format import GROUND_TRUTH_TOPIC, IMAGE_TOPIC, read_labelled_bag
from fer_training.bags.bag_report import ExpectedFace, FoundFace, match_faces, score_replay
from fer_training.bags.eval_bag import FIRST_RESULT_LINE
from fer_training.data.fer2013 import default_data_dir
from fer_training.harness.node_process import bin_path

RATE = 15.0
PER_CLASS = 2


@pytest.fixture(scope="module")
def face_folder(tmp_path_factory):
    """A `<class>/*.png` folder of real faces: the first JAFFE photos of each class, or, on a
    clone without the data sets, portraits of the bundled face under every class (the replay
    tests compare the node with the model called directly, whatever the truth)."""
    folder = tmp_path_factory.mktemp("faces")
    for label in LABELS:
        (folder / label).mkdir()
    jaffe = default_data_dir() / "jaffe"
    if not (jaffe / "labels.csv").is_file():
        for i, photo in enumerate(face_photos(len(LABELS) * PER_CLASS)):
            cv2.imwrite(str(folder / LABELS[i % len(LABELS)] / f"bundled_{i:02d}.png"), photo)
        return folder
    taken = {label: 0 for label in LABELS}
    with open(jaffe / "labels.csv", newline="") as f:
        for row in csv.DictReader(f):
            label = LABELS[int(row["label"])]
            if taken[label] < PER_CLASS:
                shutil.copy(jaffe / row["file"], folder / label)
                taken[label] += 1
    return folder


def make_bag(face_folder, out, *extra) -> None:
    result = run("fer-make-bag", "--dataset", f"folder:{face_folder}", "--canvas", "640x480",
                 "--rate", str(RATE), "--out", str(out), *extra)
    assert result.returncode == 0, result.stderr


@pytest.fixture(scope="module")
def mcap_bag(face_folder, tmp_path_factory):
    bag = tmp_path_factory.mktemp("bags") / "faces_mcap"
    make_bag(face_folder, bag)
    return bag


@pytest.mark.parametrize("storage, suffix", [("mcap", ".mcap"), ("sqlite3", ".db3")])
def test_bag_reads_back_with_topics_counts_types_and_stamps(face_folder, tmp_path, storage, suffix):
    bag = tmp_path / f"faces_{storage}"
    make_bag(face_folder, bag, "--storage", storage)
    assert any(p.suffix == suffix for p in bag.iterdir())
    n = 7 * PER_CLASS
    with Reader(bag) as reader:
        types = {c.topic: c.msgtype for c in reader.connections}
        assert types == {IMAGE_TOPIC: "sensor_msgs/msg/Image", GROUND_TRUTH_TOPIC: "fer_msgs/msg/GroundTruth"}
        assert {c.topic: c.msgcount for c in reader.connections} == {IMAGE_TOPIC: n, GROUND_TRUTH_TOPIC: n}
        stamps: dict[str, list[int]] = {IMAGE_TOPIC: [], GROUND_TRUTH_TOPIC: []}
        labels = []
        for connection, bag_time, raw in reader.messages():
            msg = deserialize_message(bytes(raw), Image if connection.topic == IMAGE_TOPIC else GroundTruth)
            stamp = msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec
            assert stamp == bag_time
            stamps[connection.topic].append(stamp)
            if connection.topic == IMAGE_TOPIC:
                assert (msg.width, msg.height, msg.encoding) == (640, 480, "bgr8")
            else:
                labels += list(msg.labels)
                assert len(msg.boxes) == 1 and msg.boxes[0].height == int(0.6 * 480)
    assert stamps[IMAGE_TOPIC] == stamps[GROUND_TRUTH_TOPIC]
    steps = np.diff(stamps[IMAGE_TOPIC])
    assert np.all(np.abs(steps - 1e9 / RATE) <= 1)
    assert sorted(labels) == sorted(LABELS * PER_CLASS)


def direct_predictions(bag_path) -> list[tuple[int, int]]:
    """(truth, prediction) per expected face, from the shipped model called directly (as the
    node runs it by default) on the bag's own frames, matched the same way as fer-eval-bag."""
    from fer_ros.nodes.emotion_node import PARAMETERS

    aligner = FaceAligner()
    classifier = EmotionClassifier(flip=PARAMETERS["flip_tta"].default,
                                   precision=PARAMETERS["model_precision"].default)
    pairs = []
    for frame in read_labelled_bag(bag_path).frames:
        faces = aligner.faces(image_to_array(deserialize_message(frame.raw, Image)))
        found = [FoundFace(LABELS[int(np.argmax(classifier.scores([f.crop])[0]))], tuple(f.box))
                 for f in faces]
        expected = [ExpectedFace(LABELS.index(lbl), (b.x_offset, b.y_offset, b.width, b.height))
                    for lbl, b in zip(frame.truth.labels, frame.truth.boxes)]
        for face, match in zip(expected, match_faces(expected, found)):
            if match is not None:
                pairs.append((face.label, LABELS.index(match.label)))
    return pairs


def test_replay_at_max_rate_answers_every_frame_like_the_model_does_directly(mcap_bag, tmp_path):
    out = tmp_path / "report.json"
    plot = tmp_path / "confusion.png"
    results = tmp_path / "results_bag"
    result = run("fer-eval-bag", str(mcap_bag), "--rate", "max", "--json", str(out), "--plot", str(plot),
                 "--out", str(results))
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(out.read_text())
    n = 7 * PER_CLASS
    assert report["frames_sent"] == report["frames_answered"] == n and report["dropped"] == 0
    assert report["faces_expected"] == n
    pairs = direct_predictions(mcap_bag)
    assert report["faces_found"] == len(pairs)
    confusion = np.zeros((7, 7), int)
    for truth, predicted in pairs:
        confusion[truth, predicted] += 1
    assert report["confusion"] == confusion.tolist()
    assert report["accuracy"] == pytest.approx(np.trace(confusion) / len(pairs))
    assert report["accuracy_all"] == pytest.approx(np.trace(confusion) / n)
    latency = report["latency_ms"]
    assert 0 < latency["p50"] <= latency["p95"] <= latency["p99"] <= latency["max"]
    assert report["fps"] > 0 and plot.stat().st_size > 10_000
    with Reader(results) as reader:
        assert {c.topic: c.msgcount for c in reader.connections}["/fer/emotions"] == n


def test_listen_mode_scores_a_bag_played_by_someone_else(mcap_bag, tmp_path):
    # `ros2 bag play` has no wheel: this test plays the bag's images itself, with rclpy, to an
    # emotion node in another process, while fer-eval-bag --listen scores what comes back.
    out, log_path = tmp_path / "listen.json", tmp_path / "listen.log"
    # The stand-in player warms the graph up with frames the bag does not hold (stamps before
    # its first) until the listener says a result reached it (its own readiness line), then
    # sends each bag frame once the last one was answered (resent if best effort lost it).
    with running("emotion_node", "/fer"), open(log_path, "w") as log, ros_node("stand_in_bag_player") as (
            _, player, executor):
        listener = subprocess.Popen(
            [bin_path("fer-eval-bag"), "--listen", "--truth", str(mcap_bag), "--timeout", "4", "--json", str(out)],
            env=dict(os.environ), stdout=log, stderr=subprocess.STDOUT, text=True)
        publisher = player.create_publisher(Image, IMAGE_TOPIC, qos_profile_sensor_data)
        answered: set[int] = set()
        player.create_subscription(FaceEmotionArray, "/fer/emotions", lambda m: answered.add(
            m.header.stamp.sec * 1_000_000_000 + m.header.stamp.nanosec), 100)
        # Both readers of the images (emotion node and listener) matched, so neither misses a frame.
        assert spin_until(executor, lambda: publisher.get_subscription_count() >= 2, 60), "no node and listener"
        frames = read_labelled_bag(mcap_bag).frames
        warm_up = deserialize_message(frames[0].raw, Image)
        for k in range(300):
            warm_up.header.stamp.sec, warm_up.header.stamp.nanosec = divmod(
                frames[0].stamp_ns - 1_000_000_000 + k * 1_000_000, 1_000_000_000)
            publisher.publish(warm_up)
            if wait_for_line(log_path, FIRST_RESULT_LINE, 1, 0.5):
                break
            spin_until(executor, lambda: False, 0.2)
        assert FIRST_RESULT_LINE in log_path.read_text(), log_path.read_text()
        for frame in frames:
            assert resend_until(executor, publisher, frame.raw, lambda s=frame.stamp_ns: s in answered, tries=3), \
                f"frame {frame.stamp_ns} never answered"
        listener.wait(timeout=60)
    assert listener.returncode == 0, log_path.read_text()
    report = json.loads(out.read_text())
    assert report["mode"] == "listen" and report["frames_answered"] == 7 * PER_CLASS
    assert report["latency_ms"]["p50"] > 0


def test_damaged_or_unsuitable_bags_give_a_clear_error_and_exit_code_2(mcap_bag, tmp_path):
    truncated = tmp_path / "truncated"
    shutil.copytree(mcap_bag, truncated)
    (data,) = truncated.glob("*.mcap")
    data.write_bytes(data.read_bytes()[: data.stat().st_size // 2])
    report = tmp_path / "report.json"
    result = run("fer-eval-bag", str(truncated), "--rate", "max", "--json", str(report))
    assert result.returncode == 2 and "cannot read bag" in result.stderr and not report.exists()
    result = run("fer-eval-bag", str(mcap_bag), "--image-topic", "/nope")
    assert result.returncode == 2 and "has no topic /nope" in result.stderr
    result = run("fer-eval-bag", str(tmp_path / "missing"))
    assert result.returncode == 2 and "bag not found" in result.stderr


def test_score_replay_counts_misses_and_drops():
    truth = {1: [ExpectedFace(3, (0, 0, 100, 100))], 2: [ExpectedFace(0, (0, 0, 100, 100))],
             3: [ExpectedFace(6, (200, 0, 100, 100))]}
    results = {1: [FoundFace("happy", (10, 10, 50, 50))],    # right
               2: [FoundFace("sad", (300, 300, 50, 50))]}   # a face elsewhere: a miss
    report = score_replay(truth, results, frames_sent=3, latencies_ms=[5.0, 7.0], seconds=1.0)
    assert (report["frames_answered"], report["dropped"]) == (2, 1)
    assert (report["faces_expected"], report["faces_found"]) == (3, 1)
    assert report["accuracy"] == 1.0 and report["accuracy_all"] == pytest.approx(1 / 3)
    assert report["latency_ms"]["max"] == 7.0 and report["fps"] == 2.0


def test_video_source_with_segment_labels(tmp_path):
    from fer_ros.sample_clip import write_clip

    clip = write_clip(tmp_path / "clip.mp4", frames=6, period=60, size=(320, 240))
    labels = tmp_path / "labels.csv"
    labels.write_text("start,end,label\n0,2,happy\n3,4,6\n")  # frame 5 unlabelled
    bag = tmp_path / "video_bag"
    result = run("fer-make-bag", "--dataset", f"video:{clip}", "--labels", str(labels), "--out", str(bag),
                 "--compressed", "--rate", "10")
    assert result.returncode == 0, result.stderr
    frames = read_labelled_bag(bag).frames
    assert [list(f.truth.labels) for f in frames] == [["happy"]] * 3 + [["neutral"]] * 2 + [[]]
    assert all(f.truth.boxes[0].width == 320 for f in frames[:5])
    result = run("fer-make-bag", "--dataset", f"video:{clip}", "--out", str(tmp_path / "no_labels"))
    assert result.returncode == 2 and "needs --labels" in result.stderr


def test_image_folder_with_a_labels_csv(face_folder, tmp_path):
    rows = [f"{path.parent.name}/{path.name},{path.parent.name}" for path in sorted(face_folder.glob("*/*.png"))]
    labels = tmp_path / "labels.csv"
    labels.write_text("file,label\n" + "\n".join(rows[:3]) + "\n")
    bag = tmp_path / "csv_bag"
    result = run("fer-make-bag", "--dataset", f"folder:{face_folder}", "--labels", str(labels), "--out", str(bag))
    assert result.returncode == 0, result.stderr
    frames = read_labelled_bag(bag).frames
    assert [list(f.truth.labels) for f in frames] == [[row.split(",")[1]] for row in rows[:3]]
