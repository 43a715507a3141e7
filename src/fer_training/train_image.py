"""fer-train-image: train the image model on FER2013 Training, select on PublicTest.

Runs on any Keras 3 backend (TensorFlow here, JAX or torch on an accelerator); the saved
`.keras` file loads in the TensorFlow runtime that the nodes use.

Resumable: after every epoch `OUT/checkpoint.keras` (model and optimizer state) and
`OUT/checkpoint.json` (epoch, history, augmentation generator state) are written; `--resume`
continues from them, e.g. across commands limited to 10 minutes on a lent accelerator
(`--time-budget 540 --resume`, repeated). A resumed run's dropout draws differ from an
uninterrupted one's. The checkpoint is removed once the model is written.
"""

import argparse
import json
import time
from pathlib import Path

import keras
import numpy as np

from fer_ros.labels import LABELS
from fer_ros.model_files import MODEL_FILE, write_metadata
from fer_training.augment import augment
from fer_training.fer2013 import default_data_dir, load_split
from fer_training.models import ARCHITECTURES
from fer_training.provenance import command_line, machine


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", type=Path, default=default_data_dir(), help="folder holding fer2013/")
    p.add_argument("--out", type=Path, required=True, help="model folder to write")
    p.add_argument("--arch", choices=sorted(ARCHITECTURES), default="dexpression")
    p.add_argument("--epochs", type=int, default=60)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--label-smoothing", type=float, default=0.1)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--time-budget", type=float, default=3000.0,
                   help="stop starting new epochs after this many seconds (the best checkpoint is kept)")
    p.add_argument("--brightness", type=float, default=0.0, help="augmentation: contrast/brightness jitter b")
    p.add_argument("--erase", type=float, default=0.0, help="augmentation: random erasing in this fraction")
    p.add_argument("--class-weight", choices=("none", "sqrt", "balanced"), default="none",
                   help="weight classes by inverse frequency (balanced) or its square root (disgust: 436 images)")
    p.add_argument("--patience", type=int, default=0, help="stop after N epochs without a better PublicTest (0: off)")
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.* if present")
    p.add_argument("--verbose", type=int, default=2, help="Keras fit verbosity (0, 1 or 2)")
    return p.parse_args(argv)


def class_weights(labels: np.ndarray, mode: str, num_classes: int) -> np.ndarray:
    """Per-class loss weights with mean 1 over the training images."""
    counts = np.bincount(labels, minlength=num_classes).astype(float)
    weights = {"none": np.ones(num_classes), "balanced": 1 / counts, "sqrt": 1 / np.sqrt(counts)}[mode]
    return weights / np.sum(weights * counts) * len(labels)


def _as_input(images: np.ndarray) -> np.ndarray:
    return images[..., None].astype("float32")


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    keras.utils.set_random_seed(args.seed)
    x_train, y_train = load_split(args.data_dir, "Training")
    x_val, y_val = load_split(args.data_dir, "PublicTest")
    num_classes = len(LABELS)

    args.out.mkdir(parents=True, exist_ok=True)
    checkpoint, state_path = args.out / "checkpoint.keras", args.out / "checkpoint.json"
    rng = np.random.default_rng(args.seed)
    history: dict[str, list[float]] = {}
    first_epoch, trained_before = 0, 0.0
    if args.resume and checkpoint.is_file() and state_path.is_file():
        model = keras.saving.load_model(checkpoint)  # with its optimizer state
        state = json.loads(state_path.read_text())
        first_epoch, history, trained_before = state["epochs_done"], state["history"], state["train_seconds"]
        rng.bit_generator.state = state["rng"]
        print(f"resuming after epoch {first_epoch} from {checkpoint}")
    else:
        model = ARCHITECTURES[args.arch]()
        steps = args.epochs * int(np.ceil(len(x_train) / args.batch_size))
        model.compile(
            optimizer=keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(args.lr, steps)),
            loss=keras.losses.CategoricalCrossentropy(label_smoothing=args.label_smoothing),
            metrics=["accuracy"],
        )
    y_train_1hot = keras.utils.to_categorical(y_train, num_classes)
    sample_weight = class_weights(y_train, args.class_weight, num_classes)[y_train]
    validation = (_as_input(x_val), keras.utils.to_categorical(y_val, num_classes))
    best_weights = args.out / "best.weights.h5"
    start = time.time()
    for epoch in range(first_epoch, args.epochs):
        # A fresh augmentation of the whole training set per epoch.
        x_epoch = _as_input(augment(x_train, rng, brightness=args.brightness, erase=args.erase))
        result = model.fit(x_epoch, y_train_1hot, sample_weight=sample_weight, validation_data=validation,
                           initial_epoch=epoch, epochs=epoch + 1, batch_size=args.batch_size, verbose=args.verbose)
        for key, values in result.history.items():
            history.setdefault(key, []).extend(float(v) for v in values)
        if history["val_accuracy"][-1] >= max(history["val_accuracy"]):
            model.save_weights(best_weights)
        model.save(checkpoint)
        state_path.write_text(json.dumps({"epochs_done": epoch + 1, "history": history, "rng": rng.bit_generator.state,
                                          "train_seconds": trained_before + time.time() - start}))
        since_best = len(history["val_accuracy"]) - 1 - int(np.argmax(history["val_accuracy"]))
        if args.patience and since_best >= args.patience:
            print(f"no better PublicTest accuracy for {args.patience} epochs: stopping after epoch {epoch + 1}")
            break
        elapsed = time.time() - start
        if elapsed / (epoch + 1 - first_epoch) * (epoch + 2 - first_epoch) > args.time_budget:
            print(f"time budget of {args.time_budget:.0f} s reached after epoch {epoch + 1}"
                  + ("" if epoch + 1 == args.epochs else "; continue with --resume"))
            if epoch + 1 < args.epochs and args.resume:
                return
            break
    train_seconds = trained_before + time.time() - start
    model.load_weights(best_weights)
    for path in (best_weights, checkpoint, state_path):
        path.unlink()
    # Saved through an uncompiled twin: the shipped file holds no optimizer state.
    shipped = ARCHITECTURES[args.arch]()
    shipped.set_weights(model.get_weights())
    shipped.save(args.out / MODEL_FILE)

    val_acc = history["val_accuracy"]
    best_epoch = int(np.argmax(val_acc))
    x_test, y_test = load_split(args.data_dir, "PrivateTest")
    scores = model.predict(_as_input(x_test), batch_size=512, verbose=0)
    accuracy = {
        "Training": float(history["accuracy"][best_epoch]),
        "PublicTest": float(val_acc[best_epoch]),
        "PrivateTest": float(np.mean(np.argmax(scores, axis=1) == y_test)),
    }
    training = {
        "data": "FER2013 Training (28,709), checkpoint chosen on PublicTest, reported on PrivateTest",
        "command": command_line("fer-train-image", args, ("out", "data_dir", "verbose", "resume", "time_budget")),
        "seed": args.seed, "epochs": len(val_acc), "best_epoch": best_epoch + 1,
        "accuracy": accuracy, "train_seconds": round(train_seconds, 1),
        "machine": machine(),
        "note": "Training accuracy is on augmented batches during the best epoch",
    }
    write_metadata(args.out, arch=args.arch, training=training)
    print(json.dumps(accuracy))
