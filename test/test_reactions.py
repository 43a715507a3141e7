"""The example behaviour: hysteresis of EmotionHolds, and the emotion_reactions node over DDS."""


import pytest
from fer_msgs.msg import ClipEmotion, FaceEmotion, FaceEmotionArray
from ros_helpers import ros_node, running, spin_until
from std_msgs.msg import String

from fer_ros.vision.labels import LABELS
from fer_ros.vision.reactions import EmotionHolds
from fer_training.harness.node_process import bin_path


def scores(label: str, confidence: float) -> dict[str, float]:
    rest = (1.0 - confidence) / (len(LABELS) - 1)
    return {name: confidence if name == label else rest for name in LABELS}


def test_an_emotion_held_long_enough_is_announced_once():
    holds = EmotionHolds(min_confidence=0.5, release_confidence=0.35, hold_time=1.0)
    said = [r for i in range(30) for r in holds.update(i * 0.1, [(3, scores("happy", 0.8))])]
    assert [(r.track_id, r.label) for r in said] == [(3, "happy")]
    assert said[0].held_s == pytest.approx(1.0) and said[0].text() == "face 3: happy for 1.0 s"


def test_one_noisy_frame_does_not_end_a_hold_but_a_change_does():
    holds = EmotionHolds(min_confidence=0.5, release_confidence=0.35, hold_time=1.0, max_misses=2)
    frames = [scores("happy", 0.8)] * 5 + [scores("sad", 0.9)] + [scores("happy", 0.8)] * 6  # one bad frame at 0.5 s
    said = [r for i, s in enumerate(frames) for r in holds.update(i * 0.1, [(1, s)])]
    assert [(r.label, round(r.held_s, 1)) for r in said] == [("happy", 1.0)]
    # Three frames of another emotion (more than max_misses) end the hold; the new one starts then.
    holds = EmotionHolds(min_confidence=0.5, release_confidence=0.35, hold_time=0.5, max_misses=2)
    frames = [scores("happy", 0.8)] * 3 + [scores("sad", 0.9)] * 10
    said = [r for i, s in enumerate(frames) for r in holds.update(i * 0.1, [(1, s)])]
    assert [(r.label, round(r.held_s, 1)) for r in said] == [("sad", 0.5)]
    assert holds.held(1) == "sad"


def test_low_confidence_is_never_announced_and_gone_faces_are_forgotten():
    holds = EmotionHolds(min_confidence=0.6, release_confidence=0.4, hold_time=0.2, forget_after=1.0)
    assert [r for i in range(20) for r in holds.update(i * 0.1, [(2, scores("fear", 0.55))])] == []
    holds.update(0.0, [(5, scores("happy", 0.9))])
    holds.update(5.0, [])
    assert holds.held(5) is None
    with pytest.raises(ValueError, match="must not exceed min_confidence"):
        EmotionHolds(min_confidence=0.3, release_confidence=0.5)


def _array(sec: int, nanosec: int, faces: list[tuple[int, str, float]]) -> FaceEmotionArray:
    msg = FaceEmotionArray(labels=list(LABELS))
    msg.header.stamp.sec, msg.header.stamp.nanosec = sec, nanosec
    for track_id, label, confidence in faces:
        s = scores(label, confidence)
        msg.faces.append(FaceEmotion(track_id=track_id, label=label, confidence=confidence,
                                     scores=[s[n] for n in LABELS]))
    return msg


def _both_readers_hear_the_probe(executor, emotions, clips, heard: list[str]) -> bool:
    """Matched on the probe's side is not yet matched on the node's: a message to a reader that
    does not know its writer yet comes later, with the writer's next heartbeat, so a clip result
    could come after the frames that end its face's hold. Warm-up faces (ids 101, 102, ...) hold
    "neutral" with a clip result each until a reaction carries it; stamps stay below 99 s."""
    tenths = 0
    for track_id in range(101, 131):
        for _ in range(30):
            clips.publish(ClipEmotion(track_id=track_id, model="lstm", label="neutral", confidence=0.5))
            emotions.publish(_array(tenths // 10, tenths % 10 * 100_000_000, [(track_id, "neutral", 0.9)]))
            tenths += 1
            if spin_until(executor, lambda: heard, 0.05):
                break
        said, heard[:] = list(heard), []
        if any("(clip lstm: neutral 0.50)" in s for s in said):
            return True
    return False


def test_reactions_node_over_dds_says_who_held_what_with_the_clip_result():
    with running("emotion_reactions", "/fer", "-p", "hold_time:=0.5") as node_process, ros_node(
            "fer_reactions_probe") as (_, probe, executor):
        heard: list[str] = []
        probe.create_subscription(String, "/fer/reactions", lambda m: heard.append(m.data), 10)
        emotions = probe.create_publisher(FaceEmotionArray, "/fer/emotions", 10)
        clips = probe.create_publisher(ClipEmotion, "/fer/clip_emotions", 10)
        ready = spin_until(executor, lambda: emotions.get_subscription_count() > 0 and
                           clips.get_subscription_count() > 0 and probe.count_publishers("/fer/reactions") > 0
                           or not node_process.alive(), 60)
        assert ready and node_process.alive(), "emotion_reactions did not start"
        assert _both_readers_hear_the_probe(executor, emotions, clips, heard), heard
        damaged = _array(99, 0, [(5, "happy", 0.9)])
        damaged.faces[0].scores = [0.9]  # 1 score for 7 labels: skipped, the node keeps running
        emotions.publish(damaged)
        for i in range(12):  # 1.1 s of "happy" for face 4, "sad" below the confidence for face 9
            clips.publish(ClipEmotion(track_id=4, model="lstm", label="happy", confidence=0.81))
            emotions.publish(_array(100, i * 100_000_000, [(4, "happy", 0.8), (9, "sad", 0.3)]))
            spin_until(executor, lambda: False, 0.02)
        assert spin_until(executor, lambda: heard, 10), "no reaction"
        # Once per hold: a second hold (face 7) follows on the same path; had face 4's frames
        # caused a second reaction, it would have come before face 7's.
        for i in range(12, 20):
            emotions.publish(_array(100 + i // 10, (i % 10) * 100_000_000, [(7, "surprise", 0.9)]))
        assert spin_until(executor, lambda: len(heard) >= 2, 10), heard
    assert heard == ["face 4: happy for 0.5 s (clip lstm: happy 0.81)", "face 7: surprise for 0.5 s"]


def test_reactions_node_refuses_inconsistent_parameters():
    import subprocess

    result = subprocess.run([bin_path("emotion_reactions"), "--ros-args", "-p", "min_confidence:=0.3",
                             "-p", "release_confidence:=0.6"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "release_confidence" in result.stderr and "min_confidence" in result.stderr
