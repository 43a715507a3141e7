"""fer-evaluate: accuracy and confusion matrix of an image model on a labelled data set."""

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np

from fer_ros.vision.align import FACE_SIZE, FaceAligner
from fer_ros.vision.classify import EmotionClassifier
from fer_ros.vision.detect import DETECTORS, FaceDetector
from fer_ros.vision.image_ops import to_grey
from fer_ros.vision.model_files import PRECISIONS, SHIPPED_IMAGE_MODEL, ModelFileError
from fer_training.data.fer2013 import SPLITS, default_data_dir, load_split
from fer_training.data.ferplus import left_out_counts, load_votes, majority
from fer_training.data.labelled_images import labelled_images
from fer_training.evaluation.metrics import (
    above_thresholds,
    balanced_recall,
    confusion_matrix,
    expected_calibration_error,
    macro_f1,
    per_class,
)

FER2013_DATASETS = tuple(f"fer2013:{split}" for split in SPLITS if split != "Training")
FERPLUS_DATASETS = tuple(f"ferplus:{split}" for split in SPLITS if split != "Training")
NO_FACE = -1
THRESHOLDS = (0.5, 0.7, 0.9)  # confidence_threshold values reported: what `unknown` keeps and costs
DATASETS_HELP = "fer2013:PublicTest|PrivateTest, ferplus:PublicTest|PrivateTest, jaffe, ckplus or folder:PATH"


def score_labelled(classifier: EmotionClassifier, dataset: str, data_dir: Path, detector: str = "yunet"
                   ) -> tuple[np.ndarray, np.ndarray]:
    """(truth, scores) for jaffe, ckplus or folder:PATH. Full images go through the node's
    detector and aligner (largest face); an image without a face found has NaN scores. Images
    of an emotion with no FER2013 class (CK+ contempt) have truth -1."""
    aligner = FaceAligner(FaceDetector(detector))
    truth, scores = [], []
    for item in labelled_images(dataset, data_dir, with_unmapped=True):
        if item.is_crop:
            crop = cv2.resize(to_grey(item.image), (FACE_SIZE, FACE_SIZE), interpolation=cv2.INTER_AREA)
        else:
            faces = aligner.faces(item.image)
            crop = faces[0].crop if faces else None
        truth.append(item.label)
        scores.append(classifier.scores([crop])[0] if crop is not None
                      else np.full(len(classifier.labels), np.nan))
    return np.array(truth, dtype=int), np.array(scores).reshape(len(truth), len(classifier.labels))


def evaluate(classifier: EmotionClassifier, dataset: str, data_dir: Path, detector: str = "yunet") -> dict:
    """The report of fer-evaluate; a face not found counts as a wrong answer in `accuracy`."""
    left_out = None
    if dataset in FER2013_DATASETS + FERPLUS_DATASETS:
        split = dataset.split(":", 1)[1]
        images, truth = load_split(data_dir, split)
        if dataset in FERPLUS_DATASETS:  # the crowd's majority; images without one are left out
            truth, reasons = majority(load_votes(data_dir, split))
            left_out = left_out_counts(reasons)
        scores = classifier.scores_batched(images)
    else:
        truth, scores = score_labelled(classifier, dataset, data_dir, detector)
    other = truth < 0
    report = build_report(dataset, classifier.name, list(classifier.labels), truth[~other], scores[~other])
    if left_out is not None:
        report["left_out"] = left_out
    elif other.any():  # left out of every figure above; what the model calls them
        answers = np.argmax(np.nan_to_num(scores[other]), axis=1)
        found = ~np.isnan(scores[other]).any(axis=1)
        report["no_fer_class"] = {"n": int(other.sum()), "detected": int(found.sum()), "predicted": {
            label: int(np.sum(answers[found] == i)) for i, label in enumerate(classifier.labels)}}
    return report


def build_report(dataset: str, model: str, labels: list[str], truth: np.ndarray, scores: np.ndarray) -> dict:
    """Accuracy, per-class figures, confusion and calibration of `scores` (NaN rows: no face found)."""
    found = ~np.isnan(scores).any(axis=1)
    predicted = np.where(found, np.argmax(np.nan_to_num(scores), axis=1), NO_FACE)
    confusion = confusion_matrix(truth[found], predicted[found], len(labels))
    classes = per_class(confusion, labels)
    confidence = scores[found].max(axis=1) if found.any() else np.zeros(0)
    correct = predicted[found] == truth[found]
    return {
        "dataset": dataset,
        "model": model,
        "labels": labels,
        "n": int(len(truth)),
        "detected": int(found.sum()),
        "accuracy": float(np.mean(predicted == truth)) if len(truth) else 0.0,
        "per_class": classes,
        "macro_f1": macro_f1(classes),
        "balanced_recall": balanced_recall(classes),
        "confusion": confusion.tolist(),
        "ece": expected_calibration_error(confidence, correct),
        "confidence_thresholds": above_thresholds(confidence, correct, THRESHOLDS),
    }


def write_outputs(report: dict, json_path: Path | None, plot_path: Path | None) -> None:
    if json_path:
        json_path.write_text(json.dumps(report, indent=1) + "\n")
    if plot_path:
        from fer_training.evaluation.plots import plot_confusion

        plot_confusion(report["confusion"], report["labels"], plot_path,
                       f"{report['dataset']}: accuracy {report['accuracy']:.3f} ({report['model']})")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--dataset", default="fer2013:PrivateTest",
                   help=DATASETS_HELP)
    p.add_argument("--data-dir", type=Path, default=default_data_dir())
    p.add_argument("--model", type=Path, default=SHIPPED_IMAGE_MODEL, help="model folder")
    p.add_argument("--detector", choices=DETECTORS, default="yunet",
                   help="face detector for full photographs (jaffe, folder:), as the node's parameter")
    p.add_argument("--flip", action="store_true", help="average each face's scores with its mirror image's")
    p.add_argument("--precision", choices=PRECISIONS, default="auto",
                   help="model file: float, int8, or auto (int8 where the folder has it, as the node)")
    p.add_argument("--class-balance", type=float, metavar="TAU",
                   help="the decision: scores divided by the training prior to this power (0: as trained; "
                        "default: the model card's class_balance, as the node)")
    p.add_argument("--json", type=Path, help="write the report here")
    p.add_argument("--plot", type=Path, help="write the normalised confusion matrix here (PNG)")
    args = p.parse_args(argv)
    if not (args.dataset in (*FER2013_DATASETS, *FERPLUS_DATASETS, "jaffe", "ckplus")
            or args.dataset.startswith("folder:")):
        print(f"error: unknown dataset {args.dataset!r}; expected {DATASETS_HELP}", file=sys.stderr)
        return 2
    try:
        classifier = EmotionClassifier(args.model, args.flip, args.precision, args.class_balance)
        report = evaluate(classifier, args.dataset, args.data_dir, args.detector) | {
            "class_balance": classifier.class_balance}
    except (OSError, ValueError, ModelFileError) as e:  # a missing folder, an unreadable image, a bad model
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"{report['dataset']}: accuracy {report['accuracy']:.4f} on {report['n']} images, "
          f"{report['detected']} faces found, balanced recall {report['balanced_recall']:.4f}, macro F1 "
          f"{report['macro_f1']:.4f}, ECE {report['ece']:.4f} ({report['model']}, class_balance "
          f"{report['class_balance']:g})")
    if "left_out" in report:
        print("left out (FER+ majority outside the 7 classes, or none): "
              + ", ".join(f"{reason} {n}" for reason, n in report["left_out"].items()))
    if "no_fer_class" in report:
        other = report["no_fer_class"]
        print(f"{other['n']} images of an emotion outside the 7 classes (e.g. contempt), left out above; "
              f"the model called them: {', '.join(f'{k} {v}' for k, v in other['predicted'].items())}")
    write_outputs(report, args.json, args.plot)
    return 0
