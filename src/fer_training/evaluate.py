"""fer-evaluate: accuracy and confusion matrix of an image model on a labelled data set."""

import argparse
import json
from pathlib import Path

import numpy as np

from fer_ros.classify import EmotionClassifier
from fer_ros.model_files import SHIPPED_IMAGE_MODEL
from fer_training.fer2013 import SPLITS, default_data_dir, load_split

DATASETS = tuple(f"fer2013:{split}" for split in SPLITS if split != "Training")


def confusion_matrix(truth: np.ndarray, predicted: np.ndarray, num_classes: int) -> np.ndarray:
    """Counts, rows = truth, columns = prediction."""
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (truth, predicted), 1)
    return matrix


def evaluate(classifier: EmotionClassifier, dataset: str, data_dir: Path) -> dict:
    split = dataset.split(":", 1)[1]
    images, truth = load_split(data_dir, split)
    predicted = np.argmax(classifier.scores_batched(images), axis=1)
    return {
        "dataset": dataset,
        "model": classifier.name,
        "labels": list(classifier.labels),
        "n": int(len(truth)),
        "accuracy": float(np.mean(predicted == truth)),
        "confusion": confusion_matrix(truth, predicted, len(classifier.labels)).tolist(),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--dataset", choices=DATASETS, default="fer2013:PrivateTest")
    p.add_argument("--data-dir", type=Path, default=default_data_dir())
    p.add_argument("--model", type=Path, default=SHIPPED_IMAGE_MODEL, help="model folder")
    p.add_argument("--json", type=Path, help="write the report here")
    args = p.parse_args(argv)
    report = evaluate(EmotionClassifier(args.model), args.dataset, args.data_dir)
    print(f"{report['dataset']}: accuracy {report['accuracy']:.4f} on {report['n']} images "
          f"({report['model']})")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n")
    return 0
