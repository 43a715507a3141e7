"""Expression classification of aligned 48x48 faces with the shipped (or a given) Keras model."""

import contextlib
import os
from pathlib import Path

import numpy as np

from fer_ros.align import FACE_SIZE
from fer_ros.model_files import MODEL_FILE, SHIPPED_IMAGE_MODEL, ModelFileError, read_metadata

LITE_MAX_BATCH = 8  # up to this many faces one at a time through TensorFlow Lite; more in one batch


class EmotionClassifier:
    """Scores for each label of the model card, for a batch of aligned faces, or of clips of
    aligned faces for a clip model (its card's `input` is then frames x 48 x 48 x 1).

    The model runs through one compiled TensorFlow function with a fixed input signature
    (`model.predict()` costs milliseconds of set-up per call, too much per camera frame), and an
    image model's faces, up to LITE_MAX_BATCH at a time, through TensorFlow Lite (`LiteModel`).
    An image model of ours also returns each face's feature map (`scores_and_features`), and a clip
    model built on the same feature extractor can classify a clip from those maps alone
    (`scores_from_features`): the clip stage then costs a clip head, not 12 more passes.
    """

    def __init__(self, model_dir: Path | str = SHIPPED_IMAGE_MODEL, flip: bool = False):
        """`flip`: average each face's scores with its mirror image's (test-time augmentation:
        +1.3 points on FER2013 PrivateTest for the shipped model, at twice the cost)."""
        model_dir = Path(model_dir)
        self.card = read_metadata(model_dir)
        # Fitted on PublicTest by fer-calibrate, so that `confidence` matches how often it is right.
        self.temperature = float(self.card.get("temperature_flip" if flip else "temperature", 1.0))
        if not self.temperature > 0:  # also NaN
            raise ModelFileError(f"model card in {model_dir}: temperature must be > 0, got {self.temperature}")
        self.flip = flip
        self.labels: tuple[str, ...] = tuple(self.card["labels"])
        self.name = f'{self.card["name"]}-v{self.card["version"]}' + ("+flip" if flip else "")
        self.input_shape: tuple[int, ...] = tuple(self.card.get("input", (FACE_SIZE, FACE_SIZE, 1)))
        path = model_dir / MODEL_FILE
        if not path.is_file():
            raise ModelFileError(f"model file not found: {path}")
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's start-up chatter
        import keras  # heavy: imported only when a model is really loaded
        import tensorflow as tf

        from fer_training.models import FEATURE_LAYER  # also registers the custom layers for loading
        try:
            model = keras.saving.load_model(path, compile=False)
        except Exception as e:  # Keras raises many types for a damaged zip/h5
            raise ModelFileError(f"cannot load model file {path}: {e}") from e
        if model.output_shape[-1] != len(self.labels):
            raise ModelFileError(f"{path} gives {model.output_shape[-1]} scores but its card "
                                 f"lists {len(self.labels)} labels")
        if tuple(model.input_shape[1:]) != self.input_shape:
            raise ModelFileError(f"{path} takes input {model.input_shape[1:]} but its card says {self.input_shape}")
        self.trunk, self._head = _trunk_and_head(model, FEATURE_LAYER)
        signature = [tf.TensorSpec([None, *self.input_shape], tf.float32)]
        self.gives_features = self._head is None and self.trunk is not None  # an image model of ours
        if self.gives_features:
            both = keras.Model(model.input, [model.output, self.trunk.output])
            self._run_with_features = tf.function(lambda x: both(x, training=False), input_signature=signature)
            self._lite = LiteModel(both)
        else:
            self._run = tf.function(lambda x: model(x, training=False), input_signature=signature)
        if self._head is not None:
            self._run_head = tf.function(lambda f: self._head(f, training=False), input_signature=[
                tf.TensorSpec([None, *self._head.input_shape[1:]], tf.float32)])
            self.scores_from_features(np.zeros((1, *self._head.input_shape[1:]), np.float32))  # trace now
        self.scores(np.zeros((1, *self.input_shape), np.uint8))  # trace now, not on frame 1

    def scores(self, faces: np.ndarray | list[np.ndarray]) -> np.ndarray:
        """N x len(labels) probabilities for N uint8 48x48 faces (0-255 grey), or N clips."""
        if self.gives_features:
            return self.scores_and_features(faces)[0]
        batch, n = self._batch(faces)
        if n == 0:
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        return self._calibrated(self._run(batch).numpy(), n)

    def scores_and_features(self, faces: np.ndarray | list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Scores and feature maps (N x 6 x 6 x 272, of the faces as given) of N faces, for an image model."""
        batch, n = self._batch(faces)
        if n == 0:
            return (np.zeros((0, len(self.labels)), dtype=np.float32),
                    np.zeros((0, *self.trunk.output_shape[1:]), np.float32))
        if len(batch) <= LITE_MAX_BATCH:
            scores, features = self._lite(batch)
        else:
            scores, features = (t.numpy() for t in self._run_with_features(batch))
        return self._calibrated(scores, n), features[:n]

    def _batch(self, faces: np.ndarray | list[np.ndarray]) -> tuple[np.ndarray, int]:
        """The model's input batch (with the mirror images appended when flipping) and N."""
        batch = np.asarray(faces, dtype=np.float32).reshape(-1, *self.input_shape)
        return (np.concatenate([batch, batch[..., ::-1, :]]) if self.flip else batch), len(batch)

    def _calibrated(self, probabilities: np.ndarray, n: int) -> np.ndarray:
        if self.flip:
            probabilities = (probabilities[:n] + probabilities[n:]) / 2
        return apply_temperature(probabilities, self.temperature)

    def shares_features_with(self, image_model: "EmotionClassifier") -> bool:
        """True when this clip model's feature extractor is the image model's, weight for weight."""
        if self._head is None or not image_model.gives_features:
            return False
        mine, theirs = self.trunk.get_weights(), image_model.trunk.get_weights()
        return len(mine) == len(theirs) and all(np.array_equal(a, b) for a, b in zip(mine, theirs))

    def scores_from_features(self, features: np.ndarray) -> np.ndarray:
        """A clip model's scores for N clips given as N x frames x feature maps."""
        return self._run_head(np.asarray(features, dtype=np.float32)).numpy()

    def scores_batched(self, faces: np.ndarray, batch_size: int = 512) -> np.ndarray:
        """Scores for a large set of faces, a batch at a time (evaluation)."""
        parts = [self.scores(faces[i:i + batch_size]) for i in range(0, len(faces), batch_size)]
        return np.concatenate(parts) if parts else self.scores([])


class LiteModel:
    """A Keras model with outputs (scores, feature map) run through TensorFlow Lite (XNNPACK),
    one face per call: about 0.9 ms a face here, against 2.2-2.9 ms through a TensorFlow function,
    whose per-call overhead dominates at the batch sizes of a camera frame. Same results to
    within float rounding (< 1e-5). Converted when the model is loaded (about 1 s), so no
    second model file can drift from the Keras one. Not thread-safe: one caller at a time."""

    def __init__(self, model) -> None:
        import tensorflow as tf
        from ai_edge_litert.interpreter import Interpreter

        converter = tf.lite.TFLiteConverter.from_keras_model(model)  # input 1 x 48 x 48 x 1
        with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):  # Keras prints the export
            content = converter.convert()
        self._interpreter = Interpreter(model_content=content, num_threads=2)
        self._interpreter.allocate_tensors()
        self._input = self._interpreter.get_input_details()[0]["index"]
        outputs = self._interpreter.get_output_details()
        # The converter may reorder the outputs: the scores are the one with 2 dimensions.
        self._scores, self._features = (o["index"] for o in sorted(outputs, key=lambda o: len(o["shape"])))

    def __call__(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        scores, features = [], []
        for face in batch:
            self._interpreter.set_tensor(self._input, face[None])
            self._interpreter.invoke()
            scores.append(self._interpreter.get_tensor(self._scores)[0])
            features.append(self._interpreter.get_tensor(self._features)[0])
        return np.array(scores), np.array(features)


def apply_temperature(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """softmax(logits / T) from softmax(logits): the log-probabilities are the logits up to a constant."""
    if temperature == 1.0:
        return probabilities
    logits = np.log(np.clip(probabilities, 1e-12, 1.0)) / temperature
    exp = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return (exp / exp.sum(axis=-1, keepdims=True)).astype(np.float32)


def _trunk_and_head(model, feature_layer: str) -> tuple:
    """(feature extractor, None) of an image model, (feature extractor, head) of a clip model
    (fer_training.models.make_clip_model), (None, None) of a model of another shape."""
    if "trunk" in [layer.name for layer in model.layers]:
        return model.get_layer("trunk").layer, model.layers[-1]
    if feature_layer in [layer.name for layer in model.layers]:
        import keras

        return keras.Model(model.input, model.get_layer(feature_layer).output), None
    return None, None
