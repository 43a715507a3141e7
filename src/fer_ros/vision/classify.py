"""Expression classification of aligned 48x48 faces, through TensorFlow Lite files (LiteRT).

The nodes load no TensorFlow or Keras: each model folder holds `.tflite` files written from its
Keras file by `fer-export-model` (training and calibration do it themselves), and its card
records which Keras file each was made from.
"""

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from fer_ros.vision.align import FACE_SIZE
from fer_ros.vision.model_files import (
    HEAD_FILE,
    INT8_FILE,
    LITE_FILE,
    PRECISIONS,
    SHIPPED_IMAGE_MODEL,
    ModelFileError,
    lite_file,
    read_metadata,
)


@contextmanager
def _native_stderr_silenced() -> Iterator[None]:
    """File descriptor 2 pointed at /dev/null for a moment: LiteRT's C++ logger has no level to
    set from Python. Errors still arrive, as exceptions."""
    sys.stderr.flush()
    saved = os.dup(2)
    with open(os.devnull, "w") as null:
        os.dup2(null.fileno(), 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


MAX_CLASS_BALANCE = 2.0


class LiteModel:
    """One TensorFlow Lite file run by LiteRT's interpreter (XNNPACK) one input at a time: the
    shipped image model runs about 3 times faster in int8 than in float (`make bench`,
    classify_*_ms); batching does not pay at the few faces of a camera frame. Not thread-safe:
    one caller at a time."""

    def __init__(self, path: Path, num_threads: int = 2) -> None:
        from ai_edge_litert.interpreter import Interpreter

        try:
            with _native_stderr_silenced():  # LiteRT's "INFO: Created TensorFlow Lite XNNPACK delegate"
                self._interpreter = Interpreter(model_path=str(path), num_threads=num_threads)
                self._interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as e:
            raise ModelFileError(f"cannot load model file {path}: {e}") from e
        details = self._interpreter.get_input_details()[0]
        self._input = details["index"]
        self.input_shape: tuple[int, ...] = tuple(int(d) for d in details["shape"][1:])
        # The converter may reorder outputs: scores (N x classes) first, then any feature map.
        outputs = sorted(self._interpreter.get_output_details(), key=lambda o: len(o["shape"]))
        self._outputs = [o["index"] for o in outputs]
        self.output_shapes: list[tuple[int, ...]] = [tuple(int(d) for d in o["shape"][1:]) for o in outputs]

    def __call__(self, batch: np.ndarray) -> list[np.ndarray]:
        """Each output of the model for a batch of N inputs, N x ... each."""
        results: list[list[np.ndarray]] = [[] for _ in self._outputs]
        for item in np.asarray(batch, dtype=np.float32):
            self._interpreter.set_tensor(self._input, item[None])
            self._interpreter.invoke()
            for out, index in zip(results, self._outputs):
                out.append(self._interpreter.get_tensor(index)[0])
        return [np.array(out, dtype=np.float32).reshape(len(batch), *shape)
                for out, shape in zip(results, self.output_shapes)]


class EmotionClassifier:
    """Scores for each label of the model card, for a batch of aligned faces, or of clips of
    aligned faces for a clip model (its card's `input` is then frames x 48 x 48 x 1).

    An image model also returns each face's feature map (`scores_and_features`), and a clip
    model built on the same feature extractor classifies a clip from those maps alone
    (`scores_from_features`, its `head.tflite`): the clip stage then costs a clip head, not 12
    more passes.
    """

    def __init__(self, model_dir: Path | str = SHIPPED_IMAGE_MODEL, flip: bool = False, precision: str = "auto",
                 class_balance: float | None = None):
        """`flip`: average each face's scores with its mirror image's (test-time augmentation,
        at twice the cost). `precision`: float (`model.tflite`, the Keras model's scores to 1e-5),
        int8 (`model_int8.tflite`, about 3 times faster, see the model card), or auto: int8 where
        the folder has it. `class_balance`: tau of the decision (`balance`); None: the card's."""
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
        model_dir = Path(model_dir)
        self.card = read_metadata(model_dir)
        # Fitted on PublicTest by fer-calibrate, so that `confidence` matches how often it is right.
        self.temperature = float(self.card.get("temperature_flip" if flip else "temperature", 1.0))
        if not self.temperature > 0:  # also NaN
            raise ModelFileError(f"model card in {model_dir}: temperature must be > 0, got {self.temperature}")
        self.flip = flip
        self.labels: tuple[str, ...] = tuple(self.card["labels"])
        self.input_shape: tuple[int, ...] = tuple(self.card.get("input", (FACE_SIZE, FACE_SIZE, 1)))
        exported = self.card.get("export", {})
        int8 = precision == "int8" or (precision == "auto" and INT8_FILE in exported)
        path = lite_file(model_dir, INT8_FILE if int8 else LITE_FILE, self.card)
        self.name = (f'{self.card["name"]}-v{self.card["version"]}' + ("-int8" if int8 else "")
                     + ("+flip" if flip else ""))
        prior = self.card.get("class_prior")
        self.class_prior = None if prior is None else np.asarray(prior, dtype=np.float64)
        self.class_balance = 0.0
        self.set_class_balance(self.card.get("class_balance", 0.0) if class_balance is None else class_balance)
        self.keras_sha256: str = exported[path.name]["keras_sha256"]
        self._model = LiteModel(path)
        if self._model.output_shapes[0] != (len(self.labels),):
            raise ModelFileError(f"{path} gives {self._model.output_shapes[0][-1]} scores but its card "
                                 f"lists {len(self.labels)} labels")
        if self._model.input_shape != self.input_shape:
            raise ModelFileError(f"{path} takes input {self._model.input_shape} but its card says {self.input_shape}")
        self.gives_features = len(self._model.output_shapes) > 1  # an image model of ours
        self.feature_shape = self._model.output_shapes[1] if self.gives_features else None
        has_head = HEAD_FILE in exported
        self._head = LiteModel(lite_file(model_dir, HEAD_FILE, self.card)) if has_head else None

    def scores(self, faces: np.ndarray | list[np.ndarray]) -> np.ndarray:
        """N x len(labels) probabilities for N uint8 48x48 faces (0-255 grey), or N clips."""
        if self.gives_features:
            return self.scores_and_features(faces)[0]
        batch, n = self._batch(faces)
        return self._calibrated(self._model(batch)[0], n)

    def scores_and_features(self, faces: np.ndarray | list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Scores and feature maps (of the faces as given) of N faces, for an image model."""
        scores, views = self.scores_and_feature_views(faces)
        return scores, views[:, 0]

    def scores_and_feature_views(self, faces: np.ndarray | list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Scores and N x views x feature map: each face as given and, with `flip`, its mirror
        image (computed for the scores anyway), so that a clip head can be averaged over the
        mirror image as the per-frame scores are."""
        batch, n = self._batch(faces)
        scores, features = self._model(batch)
        views = features.reshape(2 if self.flip else 1, n, *features.shape[1:]).swapaxes(0, 1)
        return self._calibrated(scores, n), views

    def _batch(self, faces: np.ndarray | list[np.ndarray]) -> tuple[np.ndarray, int]:
        """The model's input batch (with the mirror images appended when flipping) and N."""
        batch = np.asarray(faces, dtype=np.float32).reshape(-1, *self.input_shape)
        return (np.concatenate([batch, batch[..., ::-1, :]]) if self.flip else batch), len(batch)

    def set_class_balance(self, tau: float) -> None:
        """How far the decision leans from the training prior toward equal classes (0: as trained)."""
        if tau and self.class_prior is None:
            raise ModelFileError(f"class_balance {tau} needs the model card's class_prior, which {self.name} lacks "
                                 "(fer-class-balance --model DIR writes it)")
        if not 0 <= tau <= MAX_CLASS_BALANCE:
            raise ValueError(f"class_balance must be in [0, {MAX_CLASS_BALANCE}], got {tau}")
        self.class_balance = float(tau)

    def _calibrated(self, probabilities: np.ndarray, n: int) -> np.ndarray:
        if self.flip:
            probabilities = (probabilities[:n] + probabilities[n:]) / 2
        probabilities = apply_temperature(probabilities, self.temperature)
        return balance(probabilities, self.class_prior, self.class_balance) if self.class_balance else probabilities

    def shares_features_with(self, image_model: "EmotionClassifier") -> bool:
        """True when this clip model's feature extractor is the image model's, weight for weight
        (its card names the image model's Keras file, and the extractor was not trained further)."""
        return (self._head is not None and image_model.gives_features
                and self.card.get("features_from") == image_model.keras_sha256)

    def scores_from_features(self, features: np.ndarray) -> np.ndarray:
        """A clip model's scores for N clips given as N x frames x feature maps."""
        return self._head(features)[0]

    def scores_from_feature_views(self, views: np.ndarray) -> np.ndarray:
        """A clip model's scores for N clips given as N x frames x views x feature maps: the mean
        over the views (a clip and its mirror image) of the head's scores."""
        return np.mean([self.scores_from_features(views[:, :, v]) for v in range(views.shape[2])], axis=0)

    def scores_batched(self, faces: np.ndarray, batch_size: int = 512) -> np.ndarray:
        """Scores for a large set of faces, a batch at a time (evaluation)."""
        parts = [self.scores(faces[i:i + batch_size]) for i in range(0, len(faces), batch_size)]
        return np.concatenate(parts) if parts else self.scores([])


def balance(probabilities: np.ndarray, prior: np.ndarray, tau: float) -> np.ndarray:
    """The scores divided by the training prior to the power tau, renormalised (logit adjustment,
    Menon et al., ICLR 2021): tau 0 keeps the decision the model learnt, which favours the classes
    its training data held most (neutral, happy); tau 1 treats every class as equally likely."""
    adjusted = probabilities / prior ** tau
    return (adjusted / adjusted.sum(axis=-1, keepdims=True)).astype(np.float32)


def apply_temperature(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """softmax(logits / T) from softmax(logits): the log-probabilities are the logits up to a constant."""
    if temperature == 1.0:
        return probabilities
    logits = np.log(np.clip(probabilities, 1e-12, 1.0)) / temperature
    exp = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return (exp / exp.sum(axis=-1, keepdims=True)).astype(np.float32)
