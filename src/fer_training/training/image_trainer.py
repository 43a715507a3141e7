"""The training run of fer-train-image (Keras): data, targets, schedule, checkpoints, model card.

Imported only once the command line has been parsed, so that `fer-train-image --help` answers
at once, without starting TensorFlow."""


import argparse
import functools
import json
import math
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import keras
import numpy as np

from fer_ros.vision.labels import LABELS
from fer_ros.vision.model_files import MODEL_FILE, ModelFileError, write_metadata
from fer_training.data.fer2013 import load_split
from fer_training.data.ferplus import split_labels, target_prior, training_targets
from fer_training.training.augment import augment
from fer_training.training.export_model import export, load_image_model
from fer_training.training.image_command import PRECISIONS
from fer_training.training.models import ARCHITECTURES
from fer_training.training.provenance import command_line, machine


def class_weights(labels: np.ndarray, mode: str, num_classes: int) -> np.ndarray:
    """Per-class loss weights with mean 1 over the training images."""
    counts = np.bincount(labels, minlength=num_classes).astype(float)
    weights = {"none": np.ones(num_classes), "balanced": 1 / counts, "sqrt": 1 / np.sqrt(counts)}[mode]
    return weights / np.sum(weights * counts) * len(labels)


def as_input(images: np.ndarray) -> np.ndarray:
    return images[..., None].astype("float32")


def cosine_lr(base: float, epoch: int, planned: int) -> float:
    return 0.5 * base * (1 + math.cos(math.pi * min(epoch, planned) / planned))


def mixup(x: np.ndarray, y: np.ndarray, alpha: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Each image blended with a random other one, and the labels alike (Zhang et al. 2018)."""
    weight = rng.beta(alpha, alpha, len(x)).astype(np.float32)
    other = rng.permutation(len(x))
    return (weight[:, None, None, None] * x + (1 - weight[:, None, None, None]) * x[other],
            weight[:, None] * y + (1 - weight[:, None]) * y[other])


def load_aligned_training(aligned_dir: Path, y_train: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The node-framed Training faces and which of them were found (fer-preprocess-fer2013)."""
    import csv

    x, y = load_split(aligned_dir, "Training")
    if not np.array_equal(y, y_train):
        raise ValueError(f"{aligned_dir}: its Training labels differ from FER2013's")
    with open(aligned_dir / "fer2013" / "detected.csv", newline="") as f:
        found = [int(r["detected"]) for r in csv.DictReader(f) if r["split"] == "Training"]
    return x, np.array(found, dtype=bool)


@keras.saving.register_keras_serializable(package="fer")
class DistillationLoss(keras.losses.Loss):
    """Cross-entropy with the labels plus T^2 KL(teachers || model at temperature T) (Hinton et
    al. 2015). `y_true` holds the one-hot labels, then the teachers' scores at temperature T."""

    def __init__(self, temperature: float = 4.0, label_smoothing: float = 0.1, **kwargs):
        super().__init__(name=kwargs.pop("name", "distillation_loss"), **kwargs)
        self.temperature, self.label_smoothing = temperature, label_smoothing

    def call(self, y_true, y_pred):
        from keras import ops

        classes = ops.shape(y_pred)[-1]
        hard, soft = y_true[:, :classes], y_true[:, classes:]
        ce = keras.losses.categorical_crossentropy(hard, y_pred, label_smoothing=self.label_smoothing)
        log_student = ops.log_softmax(ops.log(ops.clip(y_pred, 1e-7, 1.0)) / self.temperature, axis=-1)
        kl = ops.sum(soft * (ops.log(ops.clip(soft, 1e-7, 1.0)) - log_student), axis=-1)
        return ce + self.temperature ** 2 * kl

    def get_config(self) -> dict:
        return {**super().get_config(), "temperature": self.temperature, "label_smoothing": self.label_smoothing}


@keras.saving.register_keras_serializable(package="fer")
class LogitAdjustedLoss(keras.losses.Loss):
    """Cross-entropy of softmax(log-score + tau log prior) (Menon et al., ICLR 2021): the network
    learns scores with the training prior divided out, so rare classes (disgust 0.5 %, fear 2 % of
    the crowd's majority) are not lost to it; the crowd's decision adds tau log prior back."""

    def __init__(self, log_prior: list[float], tau: float = 1.0, label_smoothing: float = 0.0, **kwargs):
        super().__init__(name=kwargs.pop("name", "logit_adjusted_loss"), **kwargs)
        self.log_prior, self.tau, self.label_smoothing = list(log_prior), tau, label_smoothing

    def call(self, y_true, y_pred):
        from keras import ops

        adjusted = ops.log(ops.clip(y_pred, 1e-7, 1.0)) + self.tau * ops.convert_to_tensor(self.log_prior)
        return keras.losses.categorical_crossentropy(y_true, ops.softmax(adjusted, axis=-1),
                                                     label_smoothing=self.label_smoothing)

    def get_config(self) -> dict:
        return {**super().get_config(), "log_prior": self.log_prior, "tau": self.tau,
                "label_smoothing": self.label_smoothing}


@keras.saving.register_keras_serializable(package="fer")
def label_accuracy(y_true, y_pred):
    """Accuracy against the one-hot labels in the first columns of `y_true` (also with teachers' scores)."""
    from keras import ops

    classes = ops.shape(y_pred)[-1]
    return ops.cast(ops.argmax(y_true[:, :classes], axis=-1) == ops.argmax(y_pred, axis=-1), "float32")


def mirrored_log_scores(model: keras.Model, x: np.ndarray) -> np.ndarray:
    """A model's mean log-scores over each face and its mirror image."""
    return np.mean([np.log(np.clip(model.predict(images, batch_size=1024, verbose=0), 1e-7, 1.0))
                    for images in (x, x[:, :, ::-1])], axis=0)


def mean_softmax(log_scores: list[np.ndarray], temperature: float) -> np.ndarray:
    """softmax(mean log-score / T) over several models' log-scores."""
    logits = np.mean(log_scores, axis=0) / temperature
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    return (exp / exp.sum(axis=1, keepdims=True)).astype(np.float32)


def teacher_scores(teachers: list[keras.Model], x: np.ndarray, temperature: float) -> np.ndarray:
    """softmax(mean log-score / T) over the teachers and the mirror images."""
    return mean_softmax([mirrored_log_scores(t, x) for t in teachers], temperature)


def training_copy(faces: np.ndarray, aligned: np.ndarray | None, found: np.ndarray | None,
                  targets: np.ndarray, args: argparse.Namespace,
                  rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One augmented copy of the training set (network input) and its targets: half the faces
    found by the node's front end taken in its framing (--aligned-dir), each face augmented,
    then mixed with another (--mixup)."""
    if aligned is not None:
        faces = np.where((found & (rng.random(len(found)) < 0.5))[:, None, None], aligned, faces)
    x = as_input(augment(faces, rng, brightness=args.brightness, erase=args.erase, framing=args.framing,
                         degrade=args.degrade))
    return mixup(x, targets, args.mixup, rng) if args.mixup > 0 else (x, targets)


def copy_generator(seed: int, copy: int) -> np.random.Generator:
    """The generator that draws --teacher-copies' copy `copy`, again alike for each epoch using it."""
    return np.random.default_rng([seed, copy])


def teacher_cache_key(args: argparse.Namespace) -> str:
    """What the cached teachers' scores depend on: a resumed run with other settings scores afresh."""
    names = ("teachers", "distill_temperature", "teacher_copies", "seed", "labels", "aligned_dir", "brightness",
             "erase", "framing", "degrade", "mixup")
    return json.dumps({name: str(getattr(args, name)) for name in names})


def cached_teacher_scores(path: Path, key: str, copies: int, score: Callable[[int], np.ndarray]) -> list[np.ndarray]:
    """The teachers' scores of each copy: those `path` holds for `key` (a resumed run), the others
    from `score(copy)`, saved to `path` as each is done so a run killed meanwhile keeps them."""
    held: dict[str, np.ndarray] = {}
    if path.is_file():
        with np.load(path) as cache:
            if str(cache["key"]) == key:
                held = {name: cache[name] for name in cache.files if name != "key"}
    for copy in range(copies):
        if f"copy_{copy}" not in held:
            started = time.time()
            held[f"copy_{copy}"] = score(copy)
            write_together({path: lambda partial: np.savez(partial, key=np.array(key), **held)})
            print(f"teachers' scores of copy {copy + 1} of {copies}: {time.time() - started:.0f} s", flush=True)
    return [held[f"copy_{copy}"] for copy in range(copies)]


def computing_in(model: keras.Model, policy: str) -> keras.Model:
    """`model` (a float32 teacher as saved) computing under the dtype policy `policy`, its
    softmax in float32: under --precision bf16 the teachers' scores, most of a distillation
    epoch's time with wide teachers, come about twice as fast."""
    if policy == "float32":
        return model

    def recast(layer: keras.layers.Layer) -> keras.layers.Layer:
        config = layer.get_config()
        if layer.name != "scores":
            config["dtype"] = policy
        return layer.__class__.from_config(config)

    twin = keras.models.clone_model(model, clone_function=recast)
    twin.set_weights(model.get_weights())
    return twin


def write_together(writers: dict[Path, Callable[[Path], object]]) -> None:
    """Each file written beside its place first, then all moved in: a run killed while writing
    (a session's end, Ctrl-C) leaves the last whole checkpoint for --resume."""
    partial = {path: path.with_name(f"partial-{path.name}") for path in writers}
    for path, write in writers.items():
        write(partial[path])
    for path in writers:
        os.replace(partial[path], path)


def _optimizer(args: argparse.Namespace) -> keras.optimizers.Optimizer:
    if args.optimizer == "sgd":
        return keras.optimizers.SGD(args.lr, momentum=0.9, nesterov=True, weight_decay=args.weight_decay or None)
    return keras.optimizers.Adam(args.lr, weight_decay=args.weight_decay or None)


def emulates_bfloat16(cpuinfo: str) -> bool:
    """Whether a CPU whose /proc/cpuinfo reads `cpuinfo` lacks bfloat16 instructions (AMX,
    AVX512-BF16): there --precision bf16 is emulated, measured 2-4 times slower than float32."""
    flags = {flag for line in cpuinfo.splitlines() if line.startswith("flags") for flag in line.split()}
    return bool(flags) and not flags & {"amx_bf16", "avx512_bf16"}


def warn_if_bfloat16_is_slow() -> None:
    """A line on stderr where bf16 runs on the CPU alone, and that CPU emulates it (torch's
    devices Keras does not list: no warning there)."""
    cpuinfo = Path("/proc/cpuinfo")
    on_cpu = keras.backend.backend() != "torch" and keras.distribution.list_devices()[0].startswith("cpu")
    if on_cpu and cpuinfo.is_file() and emulates_bfloat16(cpuinfo.read_text()):
        print("warning: --precision bf16 on a CPU without bfloat16 instructions (amx_bf16, avx512_bf16) "
              "runs slower than float32 (measured 2-4 times)", file=sys.stderr)


def train(args: argparse.Namespace) -> int:
    """The run that fer-train-image's arguments describe, under its --precision; the exit code."""
    if args.precision == "bf16":
        warn_if_bfloat16_is_slow()
    keras.mixed_precision.set_global_policy(PRECISIONS[args.precision])
    try:
        return _train(args)
    finally:
        keras.mixed_precision.set_global_policy("float32")


def _train(args: argparse.Namespace) -> int:
    try:
        init = load_image_model(args.init) if args.init else None
        teachers = [computing_in(load_image_model(t), PRECISIONS[args.precision]) for t in args.teachers or []]
        x_train, y_train = load_split(args.data_dir, "Training")
        x_val, y_val = load_split(args.data_dir, "PublicTest")
        x_aligned, found = load_aligned_training(args.aligned_dir, y_train) if args.aligned_dir else (None, None)
        targets, usable = training_targets(args.data_dir, args.labels, y_train)
        y_val = split_labels(args.data_dir, "PublicTest", args.labels, y_val)  # what checkpoints are chosen by
    except (ModelFileError, OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    keras.utils.set_random_seed(args.seed)  # after the teachers were built: the model's draws as before
    num_classes = len(LABELS)
    x_train, y_train, targets = x_train[usable], y_train[usable], targets[usable]
    if x_aligned is not None:
        x_aligned, found = x_aligned[usable], found[usable]
    x_val, y_val = x_val[y_val >= 0], y_val[y_val >= 0]
    print(f"training on {len(x_train)} Training images ({args.labels} labels), selecting on {len(x_val)} PublicTest")

    checkpoint, state_path = args.out / "checkpoint.keras", args.out / "checkpoint.json"
    rng = np.random.default_rng(args.seed)
    history: dict[str, list[float]] = {}
    first_epoch, trained_before, planned = 0, 0.0, args.epochs
    if args.resume and checkpoint.is_file() and state_path.is_file():
        try:
            model = keras.saving.load_model(checkpoint)  # with its optimizer state
            state = json.loads(state_path.read_text())
        except Exception as e:  # Keras raises many types for a damaged zip
            print(f"error: cannot resume from {checkpoint} ({e}); remove it to start afresh", file=sys.stderr)
            return 2
        first_epoch, history, trained_before = state["epochs_done"], state["history"], state["train_seconds"]
        planned = state["planned_epochs"]
        rng.bit_generator.state = state["rng"]
        print(f"resuming after epoch {first_epoch} from {checkpoint}")
    else:
        model = ARCHITECTURES[args.arch]()
        if init is not None:
            try:
                model.set_weights(init.get_weights())
            except ValueError:
                print(f"error: --init {args.init} holds no {args.arch} model (--arch)", file=sys.stderr)
                return 2
        loss = keras.losses.CategoricalCrossentropy(label_smoothing=args.label_smoothing)
        if args.teachers:
            loss = DistillationLoss(args.distill_temperature, args.label_smoothing)
        elif args.logit_adjust:
            loss = LogitAdjustedLoss(np.log(target_prior(targets)).tolist(), args.logit_adjust, args.label_smoothing)
        model.compile(optimizer=_optimizer(args), loss=loss, metrics=[label_accuracy])
    args.out.mkdir(parents=True, exist_ok=True)
    y_train_1hot = targets
    train_classes = np.argmax(targets, axis=1)
    sample_weight = class_weights(train_classes, args.class_weight, num_classes)[train_classes]
    y_val_1hot = keras.utils.to_categorical(y_val, num_classes)
    validation = (as_input(x_val), np.hstack([y_val_1hot, y_val_1hot]) if teachers else y_val_1hot)
    best_weights, score_cache = args.out / "best.weights.h5", args.out / "teacher_scores.npz"
    start = time.time()
    draw = functools.partial(training_copy, x_train, x_aligned, found, y_train_1hot, args)
    copy_scores = []
    if args.teacher_copies:
        if not args.resume:
            score_cache.unlink(missing_ok=True)  # a fresh run scores afresh
        copy_scores = cached_teacher_scores(
            score_cache, teacher_cache_key(args), args.teacher_copies,
            lambda copy: teacher_scores(teachers, draw(copy_generator(args.seed, copy))[0], args.distill_temperature))
    epoch = first_epoch
    while epoch < planned:
        epoch_start = time.time()
        # The copy scored for this epoch drawn again, or a fresh augmentation of the training set.
        copy = epoch % len(copy_scores) if copy_scores else None
        x_epoch, y_epoch = draw(rng if copy is None else copy_generator(args.seed, copy))
        if teachers:
            scores = teacher_scores(teachers, x_epoch, args.distill_temperature) if copy is None else copy_scores[copy]
            y_epoch = np.hstack([y_epoch, scores])
        model.optimizer.learning_rate.assign(cosine_lr(args.lr, epoch, planned))
        result = model.fit(x_epoch, y_epoch, sample_weight=sample_weight, validation_data=validation,
                           initial_epoch=epoch, epochs=epoch + 1, batch_size=args.batch_size, verbose=args.verbose)
        for key, values in result.history.items():
            history.setdefault(key, []).extend(float(v) for v in values)
        elapsed = time.time() - start
        if epoch == 1:  # the second epoch, compiled and warm, times the rest: fit the plan to the budget
            per_epoch = time.time() - epoch_start
            planned = max(2, min(args.epochs, 2 + int((args.time_budget - elapsed) / per_epoch)))
            print(f"{per_epoch:.1f} s an epoch: planning {planned} epochs")
        state = json.dumps({"epochs_done": epoch + 1, "history": history, "rng": rng.bit_generator.state,
                            "train_seconds": trained_before + elapsed, "planned_epochs": planned})
        improved = history["val_label_accuracy"][-1] >= max(history["val_label_accuracy"])
        write_together({checkpoint: model.save, state_path: lambda path, text=state: path.write_text(text),
                        **({best_weights: model.save_weights} if improved else {})})
        since_best = len(history["val_label_accuracy"]) - 1 - int(np.argmax(history["val_label_accuracy"]))
        if args.patience and since_best >= args.patience:
            print(f"no better PublicTest accuracy for {args.patience} epochs: stopping after epoch {epoch + 1}")
            break
        epoch += 1
        if elapsed + (time.time() - epoch_start) > args.time_budget and epoch < planned:
            print(f"time budget of {args.time_budget:.0f} s reached after epoch {epoch}; continue with --resume")
            if args.resume:
                return 0
            break
    train_seconds = trained_before + time.time() - start
    args.epochs = planned  # what reproduces this run's schedule without a time budget
    model.load_weights(best_weights)
    for path in (best_weights, checkpoint, state_path):
        path.unlink()
    score_cache.unlink(missing_ok=True)
    # Saved through an uncompiled twin: the shipped file holds no optimizer state, and is float32.
    keras.mixed_precision.set_global_policy("float32")
    shipped = ARCHITECTURES[args.arch]()
    shipped.set_weights(model.get_weights())
    shipped.save(args.out / MODEL_FILE)

    val_acc = history["val_label_accuracy"]
    best_epoch = int(np.argmax(val_acc))
    x_test, y_test = load_split(args.data_dir, "PrivateTest")
    predicted = np.argmax(model.predict(as_input(x_test), batch_size=512, verbose=0), axis=1)
    accuracy = {
        "Training": float(history["label_accuracy"][best_epoch]),
        "PublicTest": float(val_acc[best_epoch]),
        "PrivateTest": float(np.mean(predicted == y_test)),
    }
    if args.labels != "fer2013":
        y_plus = split_labels(args.data_dir, "PrivateTest", args.labels, y_test)
        accuracy["PrivateTest (FER+ majority)"] = float(np.mean(predicted[y_plus >= 0] == y_plus[y_plus >= 0]))
    training = {
        "data": f"FER2013 Training ({len(x_train):,} images, {args.labels} labels), checkpoint chosen on "
                f"PublicTest ({'FER2013 labels' if args.labels == 'fer2013' else 'FER+ majority'}), "
                "reported on PrivateTest",
        "labels": args.labels,
        "command": command_line("fer-train-image", args,
                                ("out", "data_dir", "verbose", "resume", "time_budget", "no_export")),
        "seed": args.seed, "epochs": len(val_acc), "best_epoch": best_epoch + 1,
        "accuracy": accuracy, "train_seconds": round(train_seconds, 1),
        "machine": machine(),
        "note": "Training accuracy is on augmented batches during the best epoch",
    }
    write_metadata(args.out, arch=args.arch, training=training, version=args.version,
                   class_prior=[round(float(v), 6) for v in target_prior(targets)])
    if not args.no_export:
        export(args.out, args.data_dir)
    print(json.dumps(accuracy))
    return 0
