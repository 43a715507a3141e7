"""fer-calibrate: fit the temperature of an image model on FER2013 PublicTest and write it into
its model card, so that a face's `confidence` matches how often such answers are right; and a
second one for the scores averaged with the mirror image's (`flip_tta`), which are softer.

Fitted against the labels the model was trained for (the card's `training.labels`): FER2013's,
or the FER+ majority for a model trained on the crowd's votes (images without one left out).
The model folder is required and rewritten (its .tflite files and card): run it on a model you
trained, not on an installed package.

The temperature T divides the model's logits (softmax(logits / T)); it changes no label. Fitted
by minimising the negative log-likelihood on PublicTest (the selection split); expected
calibration error (15 bins) is reported before and after on PublicTest and PrivateTest.
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from fer_ros.vision.classify import EmotionClassifier, apply_temperature
from fer_ros.vision.model_files import METADATA_FILE, ModelFileError, read_metadata
from fer_training.data.fer2013 import default_data_dir, load_split
from fer_training.data.ferplus import split_labels
from fer_training.evaluation.metrics import expected_calibration_error
from fer_training.training.export_model import export

TEMPERATURES = np.round(np.arange(0.25, 4.0, 0.01), 2)


def fit_temperature(probabilities: np.ndarray, truth: np.ndarray) -> float:
    """The T of TEMPERATURES with the lowest negative log-likelihood."""
    rows = np.arange(len(truth))

    def nll(t: float) -> float:
        return float(-np.mean(np.log(np.clip(apply_temperature(probabilities, t)[rows, truth], 1e-12, 1.0))))

    return float(min(TEMPERATURES, key=nll))


def ece(probabilities: np.ndarray, truth: np.ndarray) -> float:
    return expected_calibration_error(probabilities.max(axis=1), probabilities.argmax(axis=1) == truth)


def truth_of(data_dir: Path, split: str, labels: str) -> tuple[np.ndarray, np.ndarray]:
    """(images, labels) of a split by the labels a model was trained for; for FER+, only the
    images with a majority among the 7 classes."""
    images, truth = load_split(data_dir, split)
    truth = split_labels(data_dir, split, labels, truth)
    return images[truth >= 0], truth[truth >= 0]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, required=True, help="image model folder (its files and card are rewritten)")
    p.add_argument("--data-dir", type=Path, default=default_data_dir(), help="folder holding fer2013/")
    p.add_argument("--json", type=Path, help="write the figures here")
    args = p.parse_args(argv)
    try:
        labels = read_metadata(args.model).get("training", {}).get("labels", "fer2013")
        splits = {split: truth_of(args.data_dir, split, labels) for split in ("PublicTest", "PrivateTest")}
        export(args.model, args.data_dir)  # calibrate the TensorFlow Lite files made from model.keras now
    except (ModelFileError, OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    card_path = args.model / METADATA_FILE
    card = json.loads(card_path.read_text())
    figures: dict = {"fitted_on": "PublicTest", "labels": "FER2013" if labels == "fer2013" else "FER+ majority"}
    classifier = EmotionClassifier(args.model, class_balance=0.0)  # the scores as trained
    classifier.temperature = 1.0  # fit on the raw scores, whatever the card says now
    for flip, key in ((False, "temperature"), (True, "temperature_flip")):
        classifier.flip = flip
        raw = {split: (classifier.scores_batched(images), truth) for split, (images, truth) in splits.items()}
        temperature = fit_temperature(*raw["PublicTest"])
        card[key] = figures[key] = temperature
        suffix = "_flip" if flip else ""
        for split, (scores, truth) in raw.items():
            figures[f"ece_{split}{suffix}_before"] = ece(scores, truth)
            figures[f"ece_{split}{suffix}_after"] = ece(apply_temperature(scores, temperature), truth)
        print(f"{key} {temperature:.2f} (fitted on PublicTest, {figures['labels']}); ECE (15 bins) " + ", ".join(
            f"{s} {figures[f'ece_{s}{suffix}_before']:.4f} -> {figures[f'ece_{s}{suffix}_after']:.4f}"
            for s in raw))
    card["calibration"] = figures
    card_path.write_text(json.dumps(card, indent=2) + "\n")
    print(f"written to {card_path}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1) + "\n")
    return 0
