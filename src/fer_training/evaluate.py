"""fer-evaluate: accuracy and confusion matrix of an image model on a labelled data set."""

import argparse
import json
from pathlib import Path

import cv2
import numpy as np

from fer_ros.align import FACE_SIZE, FaceAligner
from fer_ros.classify import EmotionClassifier
from fer_ros.image_ops import to_grey
from fer_ros.model_files import SHIPPED_IMAGE_MODEL
from fer_training.fer2013 import SPLITS, default_data_dir, load_split
from fer_training.labelled_images import labelled_images

FER2013_DATASETS = tuple(f"fer2013:{split}" for split in SPLITS if split != "Training")
NO_FACE = -1


def confusion_matrix(truth: np.ndarray, predicted: np.ndarray, num_classes: int) -> np.ndarray:
    """Counts, rows = truth, columns = prediction."""
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (truth, predicted), 1)
    return matrix


def predict_labelled(classifier: EmotionClassifier, dataset: str, data_dir: Path
                     ) -> tuple[np.ndarray, np.ndarray, int]:
    """(truth, prediction, faces found) for jaffe, ckplus or folder:PATH. Full images go
    through the node's detector and aligner (largest face); no face found predicts NO_FACE."""
    aligner = FaceAligner()
    truth, predicted, found = [], [], 0
    for item in labelled_images(dataset, data_dir):
        if item.is_crop:
            crop = cv2.resize(to_grey(item.image), (FACE_SIZE, FACE_SIZE), interpolation=cv2.INTER_AREA)
        else:
            faces = aligner.faces(item.image)
            crop = faces[0].crop if faces else None
        truth.append(item.label)
        if crop is None:
            predicted.append(NO_FACE)
            continue
        found += 1
        predicted.append(int(np.argmax(classifier.scores([crop])[0])))
    return np.array(truth), np.array(predicted), found


def evaluate(classifier: EmotionClassifier, dataset: str, data_dir: Path) -> dict:
    num_classes = len(classifier.labels)
    if dataset in FER2013_DATASETS:
        images, truth = load_split(data_dir, dataset.split(":", 1)[1])
        predicted = np.argmax(classifier.scores_batched(images), axis=1)
        found = len(truth)
    else:
        truth, predicted, found = predict_labelled(classifier, dataset, data_dir)
    answered = predicted != NO_FACE
    return {
        "dataset": dataset,
        "model": classifier.name,
        "labels": list(classifier.labels),
        "n": int(len(truth)),
        "detected": int(found),
        "accuracy": float(np.mean(predicted == truth)) if len(truth) else 0.0,
        "confusion": confusion_matrix(truth[answered], predicted[answered], num_classes).tolist(),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--dataset", default="fer2013:PrivateTest",
                   help=f"{', '.join(FER2013_DATASETS)}, jaffe, ckplus or folder:PATH")
    p.add_argument("--data-dir", type=Path, default=default_data_dir())
    p.add_argument("--model", type=Path, default=SHIPPED_IMAGE_MODEL, help="model folder")
    p.add_argument("--json", type=Path, help="write the report here")
    args = p.parse_args(argv)
    report = evaluate(EmotionClassifier(args.model), args.dataset, args.data_dir)
    print(f"{report['dataset']}: accuracy {report['accuracy']:.4f} on {report['n']} images, "
          f"{report['detected']} faces found ({report['model']})")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n")
    return 0
