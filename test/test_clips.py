"""Video tools and clip models: extract_frames and create_list on real video files, synthetic clips,
the two clip architectures and the clip stage (no ROS here; over DDS see test_nodes.py)."""

import json
import os
import subprocess

import cv2
import needs
import numpy as np
import pytest
from ros_helpers import ROOT
from shipped_faces import real_faces

from fer_ros.sample_clip import face_frame, write_clip
from fer_ros.vision.align import FaceAligner
from fer_ros.vision.classify import EmotionClassifier
from fer_ros.vision.clip_stage import ClipStage
from fer_ros.vision.labels import LABELS
from fer_ros.vision.model_files import METADATA_FILE, SHIPPED_CLIP_MODELS
from fer_ros.vision.pipeline import FaceResult
from fer_training.data.clip_folders import CLIP_INFO, read_list
from fer_training.data.clip_folders import write_clip as write_clip_folder
from fer_training.data.fer2013 import default_data_dir, load_split
from fer_training.data.synthetic_clips import CLIP_LENGTH, clip_rng, synthesize_clip, synthesize_split
from fer_training.harness.node_process import bin_path


def run(*cmd: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([bin_path(cmd[0]), *cmd[1:]], env=dict(os.environ), cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def baum_tree(tmp_path_factory):
    """A BAUM-2-like tree: subject folders with clips of a real face moving, one corrupt file
    and one clip too short for 12 frames."""
    src = tmp_path_factory.mktemp("baum") / "src"
    (src / "S001").mkdir(parents=True)
    (src / "S002").mkdir()
    write_clip(src / "S001" / "S001_happy_01.mp4", frames=30, period=30)
    write_clip(src / "S001" / "S001_sad_02.avi", frames=20, period=40)
    blank = np.full((480, 640, 3), 90, np.uint8)
    # 16 frames, 12 picked at 0, 1, 3, 4, 5, 7, 8, 10, 11, 12, 14, 15: no face in the first and 8th.
    write_video(src / "S002" / "S002_01.mp4", [blank if i in (0, 10) else face_frame(i / 16) for i in range(16)])
    write_video(src / "S002" / "S002_empty.mp4", [blank] * 12)
    write_clip(src / "S002" / "S002_short.mp4", frames=5)
    (src / "S002" / "S002_broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(3000))
    return src


def write_video(path, frames: list[np.ndarray]) -> None:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 15.0, (640, 480))
    for frame in frames:
        writer.write(frame)
    writer.release()


def test_extract_frames_writes_aligned_frames_per_clip_and_resumes(baum_tree, tmp_path):
    dst = tmp_path / "frames"
    first = run("extract_frames", "-s", str(baum_tree), "-d", str(dst), "-n", "12")
    assert first.returncode == 0, first.stderr
    assert "6 clips: 3 done, 0 finished before, 3 skipped; 2 frames without a face filled" in first.stdout
    assert "S002_broken.mp4: unreadable" in first.stdout
    assert "S002_short.mp4: too few frames (5 < 12)" in first.stdout
    assert "S002_empty.mp4: no face found in any frame" in first.stdout
    aligner = FaceAligner(max_faces=1)
    for clip in ("S001/S001_happy_01", "S001/S001_sad_02", "S002/S002_01"):
        folder = dst / clip
        frames = sorted(folder.glob("frame_*.png"))
        assert [f.name for f in frames] == [f"frame_{i:03d}.png" for i in range(12)]
        info = json.loads((folder / CLIP_INFO).read_text())
        assert info["frame_indices"] == sorted(info["frame_indices"]) and len(info["frame_indices"]) == 12
        assert info["filled"] == ([0, 7] if clip == "S002/S002_01" else [])
        # Frame 5 is the emotion node's aligned crop of the video frame it was taken from.
        capture = cv2.VideoCapture(str(baum_tree / info["source"]))
        for _ in range(info["frame_indices"][5] + 1):
            ok, source = capture.read()
        assert ok
        expected = aligner.faces(source)[0].crop
        assert np.array_equal(cv2.imread(str(frames[5]), cv2.IMREAD_GRAYSCALE), expected)
    again = run("extract_frames", "-s", str(baum_tree), "-d", str(dst), "-n", "12")
    assert "6 clips: 0 done, 3 finished before, 3 skipped" in again.stdout
    filled = [cv2.imread(str(dst / "S002" / "S002_01" / f"frame_{i:03d}.png")) for i in (0, 1, 6, 7)]
    assert np.array_equal(filled[0], filled[1]) and np.array_equal(filled[2], filled[3])  # nearest, earlier on a tie

    annotations = tmp_path / "labels.csv"
    annotations.write_text("clip,label\nS001_happy_01.mp4,happy\nS001/S001_sad_02,sad\nS002_01,contempt\n")
    listed = run("create_list", "-s", str(dst), "-d", str(tmp_path / "clips.csv"), "--annotations", str(annotations))
    assert listed.returncode == 0, listed.stderr
    assert "2 clips listed" in listed.stdout and "1 with an emotion outside the 7 classes" in listed.stdout
    clips = {c.folder.name: c for c in read_list(tmp_path / "clips.csv")}
    assert {name: LABELS[c.label] for name, c in clips.items()} == {"S001_happy_01": "happy", "S001_sad_02": "sad"}
    assert clips["S001_sad_02"].read().shape == (12, 48, 48)


def test_raw_mode_keeps_whole_frames(baum_tree, tmp_path):
    result = run("extract_frames", "-s", str(baum_tree / "S002"), "-d", str(tmp_path), "-n", "4", "--raw")
    assert result.returncode == 0 and "4 clips: 3 done, 0 finished before, 1 skipped" in result.stdout
    frame = cv2.imread(str(tmp_path / "S002_01" / "frame_003.png"))
    assert frame.shape == (480, 640, 3)


def test_annotation_sheet_columns_are_found_by_name(tmp_path):
    from fer_training.data.create_list import read_annotations

    sheet = tmp_path / "sheet.csv"
    sheet.write_text("Subject,Clip Name,Emotion,Intensity\nS1,S1_a.mp4,Happiness,3\nS1,S1_b.mp4,Anger,2\n"
                     "S2,S2_c.mp4,Contempt,1\n")
    assert read_annotations(sheet) == {"s1_a": 3, "s1_b": 0, "s2_c": -1}
    sheet.write_text("clip,label\nx,unhappy-ish\n")
    with pytest.raises(ValueError, match="row 2"):
        read_annotations(sheet)
    sheet.write_text("clip,label\nx,hapiness\n")  # a misspelling is refused, not counted as another emotion
    with pytest.raises(ValueError, match="row 2: unknown emotion 'hapiness'; expected one of .*happiness"):
        read_annotations(sheet)


def test_class_folders_named_by_annotation_words_are_labelled(tmp_path):
    from fer_training.data.create_list import create_list

    for word in ("anger", "disgust", "fear", "happiness", "sadness", "surprise", "neutral", "contempt"):
        write_clip_folder(tmp_path / "frames" / word / f"{word}_clip", np.zeros((12, 48, 48), np.uint8), {})
    summary = create_list(tmp_path / "frames", tmp_path / "clips.csv")
    assert summary["per_class"] == dict.fromkeys(LABELS, 1)
    assert summary["unlabelled"] == [str(tmp_path / "frames" / "contempt" / "contempt_clip")]


@needs.data_sets("fer2013")
def test_make_clips_writes_the_extract_frames_layout_that_create_list_reads(tmp_path):
    result = run("fer-make-clips", "--out", str(tmp_path), "--splits", "PublicTest", "--limit", "14")
    assert result.returncode == 0, result.stderr
    listed = run("create_list", "-s", str(tmp_path / "PublicTest"), "-d", str(tmp_path / "public.csv"))
    assert "14 clips listed" in listed.stdout
    stills, labels = load_split(default_data_dir(), "PublicTest")
    for clip in read_list(tmp_path / "public.csv"):
        index = int(clip.folder.name)
        assert clip.label == labels[index]
        assert np.array_equal(clip.read(), synthesize_clip(stills[index], clip_rng(1, "PublicTest", index)))


def test_synthetic_clips_vary_from_frame_to_frame_but_keep_the_face():
    stills = real_faces(1)
    clip = synthesize_clip(stills[0], clip_rng(1, "PublicTest", 0))
    assert clip.shape == (CLIP_LENGTH, 48, 48) and clip.dtype == np.uint8
    assert np.array_equal(clip, synthesize_clip(stills[0], clip_rng(1, "PublicTest", 0)))  # deterministic
    steps = [np.abs(clip[t].astype(int) - clip[t + 1]).mean() for t in range(CLIP_LENGTH - 1)]
    assert max(steps) > 1.0  # frames differ
    assert all(np.corrcoef(frame.ravel(), stills[0].ravel())[0, 1] > 0.5 for frame in clip)


def test_both_clip_architectures_take_12_frames_and_give_7_scores():
    import keras

    from fer_ros.vision.model_files import MODEL_FILE, SHIPPED_IMAGE_MODEL
    from fer_training.training.models import CLIP_HEADS, frame_classifier, image_trunk, make_clip_model

    image_model = keras.saving.load_model(SHIPPED_IMAGE_MODEL / MODEL_FILE, compile=False)
    trunk = image_trunk(image_model)
    clips = np.random.default_rng(0).integers(0, 256, (2, 12, 48, 48, 1)).astype(np.float32)
    for make_head in CLIP_HEADS.values():
        model = make_clip_model(trunk, make_head(trunk.output_shape[1:], frame_classifier(image_model)))
        assert model.input_shape == (None, 12, 48, 48, 1) and model.output_shape == (None, 7)
        scores = np.asarray(model(clips))
        np.testing.assert_allclose(scores.sum(axis=1), 1.0, rtol=1e-5)
        # Untrained, a clip model gives the softmax of the image model's mean per-frame logits.
        frames = clips.reshape(24, 48, 48, 1)
        logits = np.log(np.asarray(image_model(frames))).reshape(2, 12, 7).mean(axis=1)
        expected = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        np.testing.assert_allclose(scores, expected, rtol=1e-3, atol=1e-5)


@pytest.mark.parametrize("name", sorted(SHIPPED_CLIP_MODELS))
def test_shipped_clip_models_load_with_their_card(name):
    model = EmotionClassifier(SHIPPED_CLIP_MODELS[name])
    card = json.loads((SHIPPED_CLIP_MODELS[name] / METADATA_FILE).read_text())
    assert model.input_shape == (12, 48, 48, 1) and list(model.labels) == list(LABELS)
    assert "PublicTest" in card["training"]["accuracy"]
    scores = model.scores(np.zeros((3, 12, 48, 48), np.uint8))
    assert scores.shape == (3, 7)
    np.testing.assert_allclose(scores.sum(axis=1), 1.0, rtol=1e-5)


def _faces(aligner: FaceAligner, t: float, track_ids: list[int]) -> list[FaceResult]:
    face = aligner.faces(face_frame(t))[0]
    return [FaceResult(i, face, "neutral", 1.0, np.zeros(7)) for i in track_ids]


def test_clip_stage_buffers_per_track_slides_by_stride_and_drops_gaps():
    aligner = FaceAligner()
    stage = ClipStage({"lstm": EmotionClassifier(SHIPPED_CLIP_MODELS["lstm"])}, length=12, stride=4)
    published = []
    for frame in range(20):
        ids = [1] if frame < 16 else [2]  # track 1 ends after frame 15; track 2 starts at 16
        if frame in (3, 4):
            ids.append(7)  # a second face seen for two frames only
        published += [(frame, r) for r in stage.process(_faces(aligner, frame / 60, ids), stamp=frame)]
    assert [(frame, r.track_id, r.start_stamp, r.end_stamp) for frame, r in published] == [
        (11, 1, 0, 11), (15, 1, 4, 15)]
    for _, r in published:
        assert r.model == "lstm" and r.frame_count == 12 and r.label in LABELS
        assert abs(r.scores.sum() - 1.0) < 1e-4 and r.confidence == r.scores.max()
    # A gap ends the buffer: track 1 seen again after one missing frame starts from scratch.
    stage = ClipStage(stage.models, length=12, stride=4)
    for frame in range(11):
        stage.process(_faces(aligner, 0.0, [1]), stamp=frame)
    stage.process([], stamp=11)
    assert stage.process(_faces(aligner, 0.0, [1]), stamp=12) == []


def test_clip_heads_on_the_image_models_feature_maps_give_the_whole_models_scores():
    """The node's fast path: the image model's feature maps, computed for the per-frame result
    anyway, go to the clip models' heads; the scores equal the whole models' on the crops (with
    the float image model; the int8 one the node runs by default gives its own feature maps)."""
    aligner, image_model = FaceAligner(), EmotionClassifier(precision="float")
    models = {name: EmotionClassifier(path) for name, path in SHIPPED_CLIP_MODELS.items()}
    fast, slow = ClipStage(models, 12, 12, image_model), ClipStage(models, 12, 12)
    assert fast.needs_features and not slow.needs_features
    mirrored_image_model = EmotionClassifier(precision="float", flip=True)
    mirrored, mirror_only = ClipStage(models, 12, 12, mirrored_image_model), ClipStage(models, 12, 12)
    for frame in range(12):
        faces = _faces(aligner, frame / 60, [5])
        _, views = image_model.scores_and_feature_views([faces[0].face.crop])
        _, both = mirrored_image_model.scores_and_feature_views([faces[0].face.crop])
        assert views.shape[:2] == (1, 1) and both.shape[:2] == (1, 2)
        with_features = [FaceResult(5, faces[0].face, "", 0.0, np.zeros(7), views[0])]
        fast_results, slow_results = fast.process(with_features, frame), slow.process(faces, frame)
        # With flip_tta: the head on the clip and on its mirror image, averaged.
        mirrored_results = mirrored.process([FaceResult(5, faces[0].face, "", 0.0, np.zeros(7), both[0])], frame)
        flipped_face = type(faces[0].face)(faces[0].face.box, faces[0].face.left_eye, faces[0].face.right_eye,
                                           np.ascontiguousarray(faces[0].face.crop[:, ::-1]))
        mirror_results = mirror_only.process([FaceResult(5, flipped_face, "", 0.0, np.zeros(7))], frame)
    assert [r.model for r in fast_results] == [r.model for r in slow_results] == list(models)
    for a, b in zip(fast_results, slow_results):
        np.testing.assert_allclose(a.scores, b.scores, atol=1e-5)
    for a, b, c in zip(mirrored_results, slow_results, mirror_results):
        np.testing.assert_allclose(a.scores, (b.scores + c.scores) / 2, atol=1e-5)


def test_longer_clip_length_samples_12_frames_evenly():
    aligner = FaceAligner()
    stage = ClipStage({"c3d": EmotionClassifier(SHIPPED_CLIP_MODELS["c3d"])}, length=24, stride=24)
    results = [r for frame in range(24) for r in stage.process(_faces(aligner, frame / 60, [3]), stamp=frame)]
    assert [(r.start_stamp, r.end_stamp, r.frame_count) for r in results] == [(0, 23, 12)]
    with pytest.raises(ValueError, match="shorter than the 12 frames"):
        ClipStage({"c3d": stage.models["c3d"]}, length=8)


@needs.data_sets("fer2013")
def test_clip_training_and_evaluation_commands_end_to_end(tmp_path):
    for split in ("Training", "PublicTest"):
        assert run("fer-make-clips", "--out", str(tmp_path), "--splits", split, "--limit", "21").returncode == 0
        assert run("create_list", "-s", str(tmp_path / split), "-d", str(tmp_path / f"{split}.csv")).returncode == 0
    trained = run("fer-train-clips", "--model", "c3d", "--clips", str(tmp_path / "Training.csv"),
                  "--val-clips", str(tmp_path / "PublicTest.csv"), "--epochs", "1", "--fine-tune", "1",
                  "--out", str(tmp_path / "m"))
    assert trained.returncode == 0, trained.stderr
    card = json.loads((tmp_path / "m" / METADATA_FILE).read_text())["training"]
    assert card["epochs"] == 2 and not card["frozen_trunk"]  # 1 epoch of the head, 1 end to end
    report = tmp_path / "report.json"
    plot = tmp_path / "confusion.png"
    evaluated = run("fer-evaluate-clips", "--model", str(tmp_path / "m"), "--clips", str(tmp_path / "PublicTest.csv"),
                    "--json", str(report), "--plot", str(plot))
    assert evaluated.returncode == 0, evaluated.stderr
    figures = json.loads(report.read_text())
    assert figures["n"] == 21 and np.sum(figures["confusion"]) == 21
    assert {"accuracy", "per_class", "macro_f1", "ece", "confusion", "baseline_majority_vote",
            "baseline_mean_scores"} <= set(figures)
    assert cv2.imread(str(plot)) is not None


def test_clip_stage_parameters_turn_it_off_choose_models_and_refuse_bad_combinations():
    from fer_ros.nodes.emotion_node import PARAMETERS, clip_stage_for
    from fer_ros.ros.params import ParameterError

    defaults = {name: spec.default for name, spec in PARAMETERS.items()}
    image_model = EmotionClassifier()
    assert clip_stage_for(defaults | {"clip_model": "none"}, image_model) is None
    both = clip_stage_for(defaults | {"clip_model": "both"}, image_model)
    assert list(both.models) == ["lstm", "c3d"] and both.needs_features
    with pytest.raises(ParameterError, match="clip_model_dir"):
        clip_stage_for(defaults | {"clip_model": "both", "clip_model_dir": str(SHIPPED_CLIP_MODELS["c3d"])},
                                image_model)
    with pytest.raises(ParameterError, match="clip_length"):
        clip_stage_for(defaults | {"clip_length": 8}, image_model)


def test_annotated_image_shows_the_last_clip_result_under_the_box():
    from fer_ros.vision.annotate import draw_results

    frame = face_frame(0.0)
    results = _faces(FaceAligner(), 0.0, [4])
    plain, with_clip = draw_results(frame, results), draw_results(frame, results, {4: "clip lstm: happy 0.70"})
    rows = np.flatnonzero(np.any(plain != with_clip, axis=(1, 2)))
    box = results[0].face.box
    assert len(rows) and rows.min() > box.y + box.h  # drawn below the box only
    assert np.array_equal(draw_results(frame, results, {9: "other track"}), plain)


def test_a_bad_clip_list_is_refused_with_the_reason(tmp_path):
    bad = tmp_path / "list.csv"
    bad.write_text("clip,label,frames\nx,cheerful,x/frame_000.png\n")
    result = run("fer-evaluate-clips", "--model", "c3d", "--clips", str(bad))
    assert result.returncode == 2 and "row 2: unknown label 'cheerful'" in result.stderr
    bad.write_text("clip,label,frames\nx,happy,x/frame_000.png\n")
    result = run("fer-evaluate-clips", "--clips", str(bad))
    assert result.returncode == 2 and "do not hold 12 frames" in result.stderr


@needs.data_sets("fer2013", "ferplus")
def test_onset_clips_begin_neutral_and_keep_the_expression_label():
    from fer_training.data.ferplus import load_votes, majority

    plain, labels, indices = synthesize_split(default_data_dir(), "PublicTest", 1, 40)
    onset, onset_labels, onset_indices = synthesize_split(default_data_dir(), "PublicTest", 1, 40, onset=1.0)
    assert np.array_equal(labels, onset_labels) and np.array_equal(indices, onset_indices)
    neutral = LABELS.index("neutral")
    for clip, with_onset, label in zip(plain, onset, labels):
        if label == neutral:  # held neutral throughout: no onset
            assert np.array_equal(clip, with_onset)
        else:  # 1-8 frames of another (neutral) face, then the same frames as without onset
            assert not np.array_equal(clip[0], with_onset[0]) and np.array_equal(clip[8:], with_onset[8:])
    # Labelled by the FER+ majority for an image model that learnt it; stills without one left out.
    clips, plus, chosen = synthesize_split(default_data_dir(), "PublicTest", 1, 40, labels_from="ferplus")
    expected = majority(load_votes(default_data_dir(), "PublicTest"))[0]
    assert len(clips) == 40 and np.array_equal(plus, expected[chosen]) and (plus >= 0).all()
