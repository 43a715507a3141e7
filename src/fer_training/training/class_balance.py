"""fer-class-balance: choose an image model's decision on FER2013 PublicTest and write it into its card.

A model trained on FER2013 learns its training prior (the FER+ crowd's votes: 34 % neutral, 26 %
happy, 1.2 % disgust, 3.1 % fear) and calls subtle or posed faces what most faces are. Dividing
its scores by that prior to a power tau (`fer_ros.vision.classify.balance`; logit adjustment,
Menon et al., ICLR 2021) trades accuracy for balanced recall (the mean of the 7 per-class
recalls). The rule: of tau 0, 0.1, ..., 1, the one with the highest PublicTest balanced recall
that loses at most 1.5 points of accuracy against tau 0, scored as the node runs the model
(int8 where the folder has it, mirror averaging), against the labels it was trained for.
Written into the card: `class_prior` (the mean training target), `class_balance` (the chosen
tau, the node's and fer-evaluate's default) and `class_balance_choice` (the rule and the grid).
PrivateTest, JAFFE and CK+ play no part. The model's files are not touched.
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from fer_ros.vision.classify import EmotionClassifier, balance
from fer_ros.vision.model_files import METADATA_FILE, ModelFileError, read_metadata
from fer_training.data.fer2013 import default_data_dir, load_split
from fer_training.data.ferplus import target_prior, training_targets
from fer_training.evaluation.metrics import balanced_recall, confusion_matrix, per_class
from fer_training.training.calibrate import truth_of

GRID = np.round(np.arange(0.0, 1.01, 0.1), 1)
MAX_ACCURACY_LOSS = 0.015


def training_prior(data_dir: Path, labels: str) -> np.ndarray:
    """The mean training target of the Training images a model of `labels` was trained on."""
    _, y_train = load_split(data_dir, "Training")
    targets, usable = training_targets(data_dir, labels, y_train)
    return target_prior(targets[usable])


def choose(scores: np.ndarray, truth: np.ndarray, prior: np.ndarray, labels: list[str]) -> tuple[float, list[dict]]:
    """(the rule's tau, the grid's figures) for calibrated PublicTest scores."""
    grid = []
    for tau in GRID:
        predicted = balance(scores, prior, tau).argmax(axis=1)
        classes = per_class(confusion_matrix(truth, predicted, len(labels)), labels)
        grid.append({"tau": float(tau), "accuracy": float(np.mean(predicted == truth)),
                     "balanced_recall": balanced_recall(classes)})
    allowed = [g for g in grid if g["accuracy"] >= grid[0]["accuracy"] - MAX_ACCURACY_LOSS]
    return max(allowed, key=lambda g: g["balanced_recall"])["tau"], grid


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, required=True, help="image model folder (its card is rewritten)")
    p.add_argument("--data-dir", type=Path, default=default_data_dir(), help="folder holding fer2013/")
    args = p.parse_args(argv)
    try:
        card = read_metadata(args.model)
        labels = card.get("training", {}).get("labels", "fer2013")
        prior = training_prior(args.data_dir, labels)
        images, truth = truth_of(args.data_dir, "PublicTest", labels)
        classifier = EmotionClassifier(args.model, flip=True, class_balance=0.0)
    except (OSError, ValueError, ModelFileError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    tau, grid = choose(classifier.scores_batched(images), truth, prior, list(classifier.labels))
    for g in grid:
        print(f"tau {g['tau']:.1f}: PublicTest accuracy {g['accuracy']:.2%}, balanced recall {g['balanced_recall']:.2%}"
              + ("  <- chosen" if g["tau"] == tau else ""))
    card.update(class_prior=[round(float(v), 6) for v in prior], class_balance=tau, class_balance_choice={
        "rule": f"highest PublicTest balanced recall losing at most {MAX_ACCURACY_LOSS * 100:g} points of accuracy "
                f"against tau 0, tau in 0..1 by 0.1, {classifier.name}",
        "prior": f"mean training target ({labels} labels, FER2013 Training)", "grid": grid})
    (args.model / METADATA_FILE).write_text(json.dumps(card, indent=2) + "\n")
    print(f"class_balance {tau} written to {args.model / METADATA_FILE}")
    return 0
