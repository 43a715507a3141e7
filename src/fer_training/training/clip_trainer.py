"""The training run of fer-train-clips (Keras): frame features, clip head, export, model card.

Imported only once the command line has been parsed, so that `fer-train-clips --help` answers
at once, without starting TensorFlow."""


import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import keras
import numpy as np

from fer_ros.vision.labels import LABELS
from fer_ros.vision.model_files import MODEL_FILE, ModelFileError, sha256_of, write_metadata
from fer_training.data.clip_folders import load_clips
from fer_training.data.synthetic_clips import labels_learnt, synthesize_split
from fer_training.training.export_model import export, load_image_model
from fer_training.training.models import (
    CLIP_HEADS,
    CLIP_LENGTH,
    INPUT_SHAPE,
    frame_classifier,
    image_trunk,
    make_clip_model,
)
from fer_training.training.provenance import command_line, machine


def _clips(list_path: Path | None, data_dir: Path, split: str, seed: int, limit: int | None, onset: float,
           labels_from: str):
    if list_path:
        return load_clips(list_path, CLIP_LENGTH)
    return synthesize_split(data_dir, split, seed, limit, onset, labels_from)[:2]


def frame_features(trunk: keras.Model, clips: np.ndarray, cache: Path | None = None,
                   batch_size: int = 1024) -> np.ndarray:
    """Trunk features of every frame, float16 (N, T, *feature map), e.g. (N, 12, 3, 3, 256) for v2
    and later: computed once, reused every epoch; with a cache file, memory-mapped from disk."""
    n, t = clips.shape[:2]
    shape = (n * t, *trunk.output_shape[1:])
    if cache is not None and cache.is_file():
        return np.load(cache, mmap_mode="r").reshape(n, t, *shape[1:])
    if cache is None:
        out = np.empty(shape, np.float16)
    else:
        cache.parent.mkdir(parents=True, exist_ok=True)
        partial = cache.with_suffix(".partial.npy")  # renamed once complete: an interrupted run leaves no cache
        out = np.lib.format.open_memmap(partial, mode="w+", dtype=np.float16, shape=shape)
    frames = clips.reshape(n * t, *INPUT_SHAPE[:2])
    for i in range(0, len(frames), batch_size):
        out[i:i + batch_size] = trunk(frames[i:i + batch_size, ..., None].astype(np.float32), training=False)
    if cache is not None:
        out.flush()
        del out
        partial.rename(cache)
        out = np.load(cache, mmap_mode="r")
    return out.reshape(n, t, *shape[1:])


def cache_file(folder: Path | None, image_model: Path, clips: np.ndarray) -> Path | None:
    """Named by the image model's and the clips' contents: a stale cache is never read."""
    if folder is None:
        return None
    digest = hashlib.sha1((image_model / MODEL_FILE).read_bytes())
    digest.update(clips.tobytes())
    return folder / f"features-{digest.hexdigest()[:16]}.npy"


class FeatureBatches(keras.utils.PyDataset):
    """Shuffled float32 batches from float16 features, one batch in memory at a time (fitting
    on the whole array would copy all of it as float32)."""

    def __init__(self, features: np.ndarray, labels: np.ndarray, batch_size: int, seed: int, shuffle: bool = True):
        super().__init__()
        self.features, self.labels, self.batch_size = features, labels, batch_size
        self.order = np.arange(len(labels))
        self.rng = np.random.default_rng(seed)
        self.shuffle = shuffle
        self.on_epoch_end()

    def __len__(self) -> int:
        return -(-len(self.labels) // self.batch_size)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        rows = np.sort(self.order[index * self.batch_size:(index + 1) * self.batch_size])
        return self.features[rows].astype(np.float32), self.labels[rows]

    def on_epoch_end(self) -> None:
        if self.shuffle:
            self.rng.shuffle(self.order)


def train(args: argparse.Namespace) -> int:
    """The run that fer-train-clips' arguments describe; the exit code."""
    keras.utils.set_random_seed(args.seed)
    start = time.time()
    try:
        image_model = load_image_model(args.image_model)
        labels_from = labels_learnt(args.image_model)
        x_train, y_train = _clips(args.clips, args.data_dir, "Training", args.seed, args.limit, args.onset, labels_from)
        x_val, y_val = _clips(args.val_clips, args.data_dir, "PublicTest", args.seed, None, args.onset, labels_from)
    except (ModelFileError, OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    trunk = image_trunk(image_model)
    print(f"{len(x_train)} training clips, {len(x_val)} validation clips; computing frame features")
    f_train = frame_features(trunk, x_train, cache_file(args.feature_cache, args.image_model, x_train))
    f_val = frame_features(trunk, x_val, cache_file(args.feature_cache, args.image_model, x_val))
    print(f"features ready after {time.time() - start:.0f} s")

    head = CLIP_HEADS[args.model](trunk.output_shape[1:], frame_classifier(image_model), CLIP_LENGTH)
    head.compile(optimizer=keras.optimizers.Adam(args.lr), loss="sparse_categorical_crossentropy",
                 metrics=["accuracy"])
    stop = keras.callbacks.EarlyStopping("val_accuracy", patience=args.patience, restore_best_weights=True)
    fitted = head.fit(FeatureBatches(f_train, y_train, args.batch_size, args.seed),
                      validation_data=FeatureBatches(f_val, y_val, 512, args.seed, shuffle=False),
                      epochs=args.epochs, callbacks=[stop], verbose=args.verbose)
    history = fitted.history
    model = make_clip_model(trunk, head, CLIP_LENGTH)
    if args.fine_tune:
        trunk.trainable = True
        model.compile(optimizer=keras.optimizers.Adam(args.fine_tune_lr), loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        tuned = model.fit(x_train[..., None].astype(np.float32), y_train,
                          validation_data=(x_val[..., None].astype(np.float32), y_val),
                          epochs=args.fine_tune, batch_size=args.batch_size, verbose=args.verbose,
                          callbacks=[keras.callbacks.EarlyStopping("val_accuracy", patience=args.patience,
                                                                   restore_best_weights=True)])
        history = {k: history[k] + tuned.history[k] for k in history}
    args.out.mkdir(parents=True, exist_ok=True)
    # Saved through an uncompiled twin: the shipped file holds no optimizer state (half its size).
    shipped = make_clip_model(trunk, CLIP_HEADS[args.model](trunk.output_shape[1:], frame_classifier(image_model),
                                                            CLIP_LENGTH), CLIP_LENGTH)
    shipped.set_weights(model.get_weights())
    shipped.save(args.out / MODEL_FILE)
    best = int(np.argmax(history["val_accuracy"]))
    training = {
        "data": (f"clip list {args.clips}" if args.clips else
                 f"synthetic clips of FER2013 Training ({len(x_train)})") + ", epoch chosen on " +
                (f"clip list {args.val_clips}" if args.val_clips else "synthetic PublicTest clips") +
                "; PrivateTest, JAFFE and CK+ never used",
        "command": command_line("fer-train-clips", args,
                                ("out", "data_dir", "verbose", "image_model", "feature_cache")),
        "image_model": str(args.image_model.name), "labels": labels_from, "seed": args.seed,
        "frozen_trunk": not args.fine_tune,
        "epochs": len(history["val_accuracy"]), "best_epoch": best + 1,
        "accuracy": {"Training": float(history["accuracy"][best]), "PublicTest": float(history["val_accuracy"][best])},
        "train_seconds": round(time.time() - start, 1),
        "machine": machine(),
    }
    # With the extractor frozen, the node may feed the head the image model's own feature maps.
    shared = {} if args.fine_tune else {"features_from": sha256_of(args.image_model / MODEL_FILE)}
    write_metadata(args.out, arch=f"clip-{args.model}", training=training, version=args.version,
                   input_shape=(CLIP_LENGTH, *INPUT_SHAPE),
                   **shared)
    export(args.out)
    print(json.dumps(training["accuracy"]), f"labels {list(LABELS)}")
    return 0
