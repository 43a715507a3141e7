"""fer-evaluate on small labelled folders of real faces written by the test."""

import json

import cv2
import needs
import numpy as np
import pytest
from shipped_faces import aligned_faces

from fer_ros.vision.classify import EmotionClassifier
from fer_ros.vision.labels import LABELS
from fer_training.data.fer2013 import default_data_dir
from fer_training.evaluation.evaluate import main as evaluate_main


@pytest.fixture(scope="module")
def tiles():
    """Three aligned crops of real faces under each class: the bundled face (these tests check
    the counting, the confusion matrix and the files, against the model called directly)."""
    return aligned_faces(3 * len(LABELS)), np.arange(3 * len(LABELS)) % len(LABELS)


def test_folder_dataset_counts_confusion_json_and_plot(tmp_path, tiles):
    images, labels = tiles
    root = tmp_path / "faces"
    for i, (image, label) in enumerate(zip(images, labels)):
        (root / LABELS[label]).mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(root / LABELS[label] / f"{i:02d}.png"), image)
    # A full-size picture without a face: goes through the detector, counts as wrong.
    cv2.imwrite(str(root / "happy" / "zz_blank.png"), np.full((256, 256), 128, np.uint8))
    report_path, plot = tmp_path / "report.json", tmp_path / "confusion.png"
    assert evaluate_main(["--dataset", f"folder:{root}", "--json", str(report_path), "--plot", str(plot)]) == 0
    report = json.loads(report_path.read_text())
    assert {"dataset", "n", "accuracy", "per_class", "macro_f1", "confusion", "detected", "ece"} <= set(report)
    assert report["n"] == len(images) + 1 and report["detected"] == len(images)
    scores = EmotionClassifier().scores(images)
    predicted = scores.argmax(axis=1)
    expected = np.zeros((7, 7), int)
    np.add.at(expected, (labels, predicted), 1)
    assert report["confusion"] == expected.tolist()
    assert report["accuracy"] == pytest.approx(np.sum(predicted == labels) / (len(images) + 1))
    assert report["per_class"]["happy"]["support"] == 3  # the face-less picture is not in the matrix
    confidence = scores.max(axis=1)  # of the faces found, as `unknown` judges
    assert [row["kept"] for row in report["confidence_thresholds"]] == pytest.approx(
        [np.mean(confidence >= t) for t in (0.5, 0.7, 0.9)])
    png = cv2.imread(str(plot))
    assert png is not None and png.shape[0] > 200 and png.shape[1] > 200


def test_emotions_without_a_fer_class_are_reported_apart(tmp_path, tiles):
    images, labels = tiles
    rows = ["file,label"]
    for i, (image, label) in enumerate(zip(images[:6], labels[:6])):
        cv2.imwrite(str(tmp_path / f"{i}.png"), image)
        rows.append(f"{i}.png,{LABELS[label] if i < 4 else -1}")  # the last two: "contempt"
    (tmp_path / "labels.csv").write_text("\n".join(rows) + "\n")
    from fer_training.data.labelled_images import labelled_images

    assert len(list(labelled_images(f"folder:{tmp_path}", tmp_path, tmp_path / "labels.csv"))) == 4
    every = list(labelled_images(f"folder:{tmp_path}", tmp_path, tmp_path / "labels.csv", with_unmapped=True))
    assert [item.label for item in every] == [*labels[:4].tolist(), -1, -1]


@needs.data_sets("ckplus48")
def test_ckplus_contempt_is_reported_apart():
    from fer_training.evaluation.evaluate import evaluate

    report = evaluate(EmotionClassifier(), "ckplus", default_data_dir())
    assert report["n"] == 927 and report["no_fer_class"]["n"] == 54
    assert sum(report["no_fer_class"]["predicted"].values()) == 54


@pytest.mark.parametrize("args, message", [
    (["--dataset", "nosuch"], "unknown dataset 'nosuch'; expected fer2013:PublicTest|PrivateTest, "
                                  "ferplus:PublicTest|PrivateTest, jaffe, ckplus"),
    (["--dataset", "folder:/missing/faces"], "image folder not found: /missing/faces"),
    (["--dataset", "fer2013:PublicTest", "--data-dir", "/missing"], "FER2013 labels not found: /missing"),
    (["--model", "/missing/model"], "model card not found: /missing/model"),
])
def test_bad_input_gives_one_line_and_exit_code_2(args, message, capsys):
    assert evaluate_main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and "Traceback" not in err


def test_training_with_a_missing_data_folder_gives_one_line_and_exit_code_2(tmp_path, capsys):
    from fer_training.training.image_command import main as train_main

    assert train_main(["--data-dir", "/missing", "--out", str(tmp_path)]) == 2
    assert "error: FER2013 labels not found: /missing" in capsys.readouterr().err


@needs.data_sets("fer2013", "ferplus")
def test_ferplus_evaluation_uses_the_crowd_majority_and_counts_what_it_leaves_out():
    from fer_ros.vision.classify import EmotionClassifier
    from fer_training.data.fer2013 import default_data_dir
    from fer_training.evaluation.evaluate import evaluate

    report = evaluate(EmotionClassifier(), "ferplus:PrivateTest", default_data_dir())
    # The usual FER+ test count (../shared/data/README.md), and the reasons for the other 452.
    assert report["n"] == 3137 and sum(map(sum, report["confusion"])) == 3137
    assert report["left_out"] == {"contempt": 16, "unknown": 10, "NF": 16, "no majority": 410}
    original = evaluate(EmotionClassifier(), "fer2013:PrivateTest", default_data_dir())
    # The default decision (the card's class_balance) gives up a little accuracy for the rare classes.
    as_trained = evaluate(EmotionClassifier(class_balance=0.0), "ferplus:PrivateTest", default_data_dir())
    assert as_trained["accuracy"] - 0.03 < report["accuracy"] < as_trained["accuracy"]
    assert report["balanced_recall"] > as_trained["balanced_recall"] + 0.02
    assert original["n"] == 3589 and report["accuracy"] != original["accuracy"]


def test_calibration_needs_a_model_folder(capsys):
    from fer_training.training.calibrate import main as calibrate

    with pytest.raises(SystemExit) as stop:  # never the installed model's files by default
        calibrate([])
    assert stop.value.code == 2 and "--model" in capsys.readouterr().err


def test_calibration_and_class_balance_refuse_missing_data_or_model_and_leave_the_files_alone(tmp_path, capsys):
    """The data is read before the model's files are rewritten: a wrong --data-dir once cost the
    model its int8 file (written again only where Training faces are)."""
    import shutil

    from fer_ros.vision.model_files import SHIPPED_IMAGE_MODEL
    from fer_training.training.calibrate import main as calibrate
    from fer_training.training.class_balance import main as class_balance

    model = shutil.copytree(SHIPPED_IMAGE_MODEL, tmp_path / "model")
    before = {f.name: f.read_bytes() for f in model.iterdir()}
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "model.json").write_text("{not json")
    for main in (calibrate, class_balance):
        for argv, says in ((["--model", str(model), "--data-dir", str(tmp_path / "none")], str(tmp_path / "none")),
                           (["--model", str(tmp_path)], f"model card not found: {tmp_path}"),
                           (["--model", str(tmp_path / "bad")], f"model card is not valid JSON: {tmp_path / 'bad'}")):
            assert main(argv) == 2, (main, argv)
            err = capsys.readouterr().err.strip().splitlines()
            assert len(err) == 1 and err[0].startswith("error: ") and says in err[0], err
    assert {f.name: f.read_bytes() for f in model.iterdir()} == before


def test_clip_evaluation_and_preprocessing_refuse_bad_input_in_one_line(tmp_path, capsys):
    """A missing model, clip list or data folder: one line naming it, exit code 2, nothing written."""
    from fer_training.data.preprocess_fer2013 import main as preprocess
    from fer_training.evaluation.evaluate_clips import main as evaluate_clips

    none, out = tmp_path / "none", tmp_path / "out"
    for main, argv, says in ((evaluate_clips, ["--model", str(none)], f"model card not found: {none}"),
                             (evaluate_clips, ["--image-model", str(none)], f"model card not found: {none}"),
                             (evaluate_clips, ["--clips", str(none / "list.txt")], str(none / "list.txt")),
                             (preprocess, ["--data-dir", str(none), "--out", str(out)], str(none))):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error: ") and says in err[0], (argv, err)
    assert not out.exists()


@needs.data_sets("fer2013", "ferplus")
def test_calibration_uses_the_labels_the_model_was_trained_for():
    from fer_training.data.fer2013 import default_data_dir
    from fer_training.training.calibrate import truth_of

    images, truth = truth_of(default_data_dir(), "PrivateTest", "ferplus")
    assert len(images) == len(truth) == 3137 and truth.min() >= 0
    assert len(truth_of(default_data_dir(), "PrivateTest", "fer2013")[1]) == 3589
