"""fer-ensemble: how far an ensemble of trained image models gets on FER2013 PublicTest.

A route to a better image model is to train several networks apart (seeds, framings, targets)
and distil their mean into one (`fer-train-image --teachers A B ...`). Before the hours of
distillation, this says whether the ensemble is worth it: the teachers' mean log-scores over
each face and its mirror image (the very scores `--teachers` distils, Keras float), then for
each class balance tau of `fer-class-balance`'s grid the accuracy and balanced recall against
the FER+ majority. PublicTest only: the split that selects; PrivateTest, JAFFE and CK+ play no
part. Each model is also scored alone, so that the gain is read in one run.
"""

import argparse
import json
import sys
from pathlib import Path

from fer_ros.vision.model_files import MODEL_FILE
from fer_training.data.fer2013 import default_data_dir
from fer_training.training.calibrate import truth_of
from fer_training.training.class_balance import choose, training_prior

SPLIT = "PublicTest"


def grid_lines(name: str, tau: float, grid: list[dict]) -> list[str]:
    return [f"{name}: tau {g['tau']:.1f}: {SPLIT} accuracy {g['accuracy']:.2%}, balanced recall "
            f"{g['balanced_recall']:.2%}" + ("  <- rule" if g["tau"] == tau else "") for g in grid]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", type=Path, nargs="+", required=True, help="image model folders (model.keras)")
    p.add_argument("--data-dir", type=Path, default=default_data_dir(), help="folder holding fer2013/")
    p.add_argument("--labels", choices=("ferplus", "fer2013"), default="ferplus",
                   help="the truth and the training prior the class balance divides out")
    p.add_argument("--json", type=Path, help="write the figures here")
    args = p.parse_args(argv)
    missing = [str(m) for m in args.models if not (m / MODEL_FILE).is_file()]
    if missing:
        print(f"error: no {MODEL_FILE} in {', '.join(missing)}", file=sys.stderr)
        return 2
    try:
        images, truth = truth_of(args.data_dir, SPLIT, args.labels)
        prior = training_prior(args.data_dir, args.labels)
    except (OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2

    import keras

    from fer_ros.vision.labels import LABELS
    from fer_training.training.image_trainer import as_input, mean_softmax, mirrored_log_scores

    x = as_input(images)
    log_scores = {str(m): mirrored_log_scores(keras.saving.load_model(m / MODEL_FILE, compile=False), x)
                  for m in args.models}
    scores = {name: mean_softmax([s], 1.0) for name, s in log_scores.items()}
    if len(scores) > 1:
        scores["ensemble"] = mean_softmax(list(log_scores.values()), 1.0)  # what --teachers distils
    report = {}
    for name, s in scores.items():
        tau, grid = choose(s, truth, prior, list(LABELS))
        report[name] = {"class_balance": tau, "grid": grid}
        print("\n".join(grid_lines(name, tau, grid)))
    if args.json:
        args.json.write_text(json.dumps({"split": SPLIT, "labels": args.labels, "faces": len(truth),
                                         "models": report}, indent=2) + "\n")
    return 0
