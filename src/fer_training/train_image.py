"""fer-train-image: train the image model on FER2013 Training, select on PublicTest.

Runs on any Keras 3 backend (TensorFlow here, JAX or torch on an accelerator); the saved
`.keras` file loads in the TensorFlow runtime that the nodes use.
"""

import argparse
import json
import platform
import time
from pathlib import Path

import keras
import numpy as np

from fer_ros.labels import LABELS
from fer_ros.model_files import MODEL_FILE, write_metadata
from fer_training.augment import augment
from fer_training.fer2013 import default_data_dir, load_split
from fer_training.models import ARCHITECTURES


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
    p.add_argument("--verbose", type=int, default=2, help="Keras fit verbosity (0, 1 or 2)")
    return p.parse_args(argv)


def _as_input(images: np.ndarray) -> np.ndarray:
    return images[..., None].astype("float32")


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    keras.utils.set_random_seed(args.seed)
    x_train, y_train = load_split(args.data_dir, "Training")
    x_val, y_val = load_split(args.data_dir, "PublicTest")
    num_classes = len(LABELS)

    model = ARCHITECTURES[args.arch]()
    steps = args.epochs * int(np.ceil(len(x_train) / args.batch_size))
    model.compile(
        optimizer=keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(args.lr, steps)),
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=args.label_smoothing),
        metrics=["accuracy"],
    )
    args.out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    y_train_1hot = keras.utils.to_categorical(y_train, num_classes)
    validation = (_as_input(x_val), keras.utils.to_categorical(y_val, num_classes))
    best_weights = args.out / "best.weights.h5"
    history: dict[str, list[float]] = {}
    start = time.time()
    for epoch in range(args.epochs):
        # A fresh augmentation of the whole training set per epoch.
        x_epoch = _as_input(augment(x_train, rng))
        result = model.fit(x_epoch, y_train_1hot, validation_data=validation, initial_epoch=epoch,
                           epochs=epoch + 1, batch_size=args.batch_size, verbose=args.verbose)
        for key, values in result.history.items():
            history.setdefault(key, []).extend(values)
        if history["val_accuracy"][-1] >= max(history["val_accuracy"]):
            model.save_weights(best_weights)
        elapsed = time.time() - start
        if elapsed / (epoch + 1) * (epoch + 2) > args.time_budget:
            print(f"time budget of {args.time_budget:.0f} s reached after epoch {epoch + 1}")
            break
    train_seconds = time.time() - start
    model.load_weights(best_weights)
    best_weights.unlink()
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
        "command": "fer-train-image " + " ".join(
            f"--{k.replace('_', '-')} {v}" for k, v in sorted(vars(args).items())
            if k not in ("out", "data_dir", "verbose")),
        "seed": args.seed, "epochs": len(val_acc), "best_epoch": best_epoch + 1,
        "accuracy": accuracy, "train_seconds": round(train_seconds, 1),
        "machine": f"{platform.node()} {platform.machine()} keras-backend={keras.backend.backend()}",
        "note": "Training accuracy is on augmented batches during the best epoch",
    }
    write_metadata(args.out, arch=args.arch, training=training)
    print(json.dumps(accuracy))
