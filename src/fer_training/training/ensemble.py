"""fer-ensemble: how far an ensemble of trained image models gets on FER2013 PublicTest.

A route to a better image model is to train several networks apart (seeds, framings, targets)
and distil their mean into one (`fer-train-image --teachers A B ...`). Before the hours of
distillation, this says whether the ensemble is worth it: the teachers' mean log-scores over
each face and its mirror image (the very scores `--teachers` distils, Keras float), then for
each class balance tau of `fer-class-balance`'s grid the accuracy and balanced recall against
the FER+ majority. PublicTest only: the split that selects; PrivateTest, JAFFE and CK+ play no
part. Each model is also scored alone, so that the gain is read in one run.

`--average OUT` also writes one network whose weights are the mean of the models' (a "model
soup", Wortsman et al., ICML 2022) and scores it beside them: networks fine-tuned from one
initial network (here all from v2) stay in one basin of the loss, where the mean of their
weights is itself a good network, at one network's cost and without hours of distillation.
OUT gets `model.keras` and a card naming the members and their training commands; `fer-calibrate`
and `fer-class-balance` then make it a model the node runs.
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from fer_ros.vision.model_files import MODEL_FILE, ModelFileError, read_metadata, write_metadata
from fer_training.data.fer2013 import default_data_dir
from fer_training.training.calibrate import truth_of
from fer_training.training.class_balance import choose, training_prior
from fer_training.training.export_model import load_image_model
from fer_training.training.provenance import command_line

SPLIT = "PublicTest"
AVERAGE = "weight average"


def grid_lines(name: str, tau: float, grid: list[dict]) -> list[str]:
    return [f"{name}: tau {g['tau']:.1f}: {SPLIT} accuracy {g['accuracy']:.2%}, balanced recall "
            f"{g['balanced_recall']:.2%}" + ("  <- rule" if g["tau"] == tau else "") for g in grid]


def average_weights(models: list) -> list:
    """The element-wise mean of the weights of models of one architecture."""
    shapes = [[w.shape for w in m.get_weights()] for m in models]
    if any(s != shapes[0] for s in shapes):
        raise ValueError("the models differ in architecture: their weights cannot be averaged")
    return [sum(ws) / len(ws) for ws in zip(*(m.get_weights() for m in models), strict=True)]


def average_model(cards: list[dict], models: list):
    """A fresh twin of the members' architecture (no optimizer state) holding their mean weights."""
    from fer_training.training.models import ARCHITECTURES

    arch = cards[0]["name"]
    if arch not in ARCHITECTURES or any(c["name"] != arch for c in cards):
        raise ValueError(f"the members' cards name architectures {sorted({c['name'] for c in cards})}: "
                         f"the average needs one of {sorted(ARCHITECTURES)}")
    model = ARCHITECTURES[arch]()
    model.set_weights(average_weights(models))
    return model


def average_training(args: argparse.Namespace, cards: list[dict], public_accuracy: float) -> dict:
    """The card's account of a weight average: its members, how each was trained, and its own
    PublicTest figure measured as the trainer measures its checkpoints (Keras float, no mirror)."""
    return {
        "data": f"the mean of the weights of {len(args.models)} image models trained on FER2013 Training "
                f"(their cards: members), scored on {SPLIT} by fer-ensemble",
        "labels": args.labels,
        "command": command_line("fer-ensemble", args, ("data_dir", "json", "average")),
        "accuracy": {SPLIT: public_accuracy},
        "members": [{"model": str(m), "version": c["version"], **c.get("training", {})}
                    for m, c in zip(args.models, cards, strict=True)],
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", type=Path, nargs="+", required=True, help="image model folders (model.keras)")
    p.add_argument("--data-dir", type=Path, default=default_data_dir(), help="folder holding fer2013/")
    p.add_argument("--labels", choices=("ferplus", "fer2013"), default="ferplus",
                   help="the truth and the training prior the class balance divides out")
    p.add_argument("--json", type=Path, help="write the figures here")
    p.add_argument("--average", type=Path, metavar="OUT", help="also write the models' weight average here")
    p.add_argument("--version", default="4", help="the weight average's version in its card")
    args = p.parse_args(argv)
    average = None
    try:  # the models first, then the data: a wrong model is named whether or not the data is here
        models = [load_image_model(m) for m in args.models]
        if args.average:
            cards = [read_metadata(m) for m in args.models]
            average = average_model(cards, models)
        images, truth = truth_of(args.data_dir, SPLIT, args.labels)
        prior = training_prior(args.data_dir, args.labels)
        if average is not None:
            args.average.mkdir(parents=True, exist_ok=True)
            average.save(args.average / MODEL_FILE)
    except (ModelFileError, OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2

    from fer_ros.vision.labels import LABELS
    from fer_training.training.image_trainer import as_input, mean_softmax, mirrored_log_scores

    x = as_input(images)
    if average is not None:
        plain = float(np.mean(average.predict(x, batch_size=1024, verbose=0).argmax(axis=1) == truth))
        write_metadata(args.average, arch=cards[0]["name"], version=args.version,
                       training=average_training(args, cards, plain))
        models.append(average)
    names = [str(m) for m in args.models] + ([AVERAGE] if args.average else [])
    log_scores = {name: mirrored_log_scores(model, x) for name, model in zip(names, models, strict=True)}
    scores = {name: mean_softmax([s], 1.0) for name, s in log_scores.items()}
    if len(args.models) > 1:  # what --teachers distils
        scores["ensemble"] = mean_softmax([log_scores[str(m)] for m in args.models], 1.0)
    report = {}
    for name, s in scores.items():
        tau, grid = choose(s, truth, prior, list(LABELS))
        report[name] = {"class_balance": tau, "grid": grid}
        print("\n".join(grid_lines(name, tau, grid)))
    if args.json:
        args.json.write_text(json.dumps({"split": SPLIT, "labels": args.labels, "faces": len(truth),
                                         "models": report}, indent=2) + "\n")
    return 0
