"""Expression classification of aligned 48x48 faces with the shipped (or a given) Keras model."""

import os
from pathlib import Path

import numpy as np

from fer_ros.align import FACE_SIZE
from fer_ros.model_files import MODEL_FILE, SHIPPED_IMAGE_MODEL, ModelFileError, read_metadata


class EmotionClassifier:
    """Scores for each label of the model card, for a batch of aligned faces, or of clips of
    aligned faces for a clip model (its card's `input` is then frames x 48 x 48 x 1).

    The model runs through one compiled TensorFlow function with a fixed input signature:
    `model.predict()` costs milliseconds of set-up per call, too much per camera frame.
    """

    def __init__(self, model_dir: Path | str = SHIPPED_IMAGE_MODEL):
        model_dir = Path(model_dir)
        self.card = read_metadata(model_dir)
        self.labels: tuple[str, ...] = tuple(self.card["labels"])
        self.name = f'{self.card["name"]}-v{self.card["version"]}'
        self.input_shape: tuple[int, ...] = tuple(self.card.get("input", (FACE_SIZE, FACE_SIZE, 1)))
        path = model_dir / MODEL_FILE
        if not path.is_file():
            raise ModelFileError(f"model file not found: {path}")
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's start-up chatter
        import keras  # heavy: imported only when a model is really loaded
        import tensorflow as tf

        import fer_training.models  # noqa: F401  (registers the custom layers for loading)
        try:
            model = keras.saving.load_model(path, compile=False)
        except Exception as e:  # Keras raises many types for a damaged zip/h5
            raise ModelFileError(f"cannot load model file {path}: {e}") from e
        if model.output_shape[-1] != len(self.labels):
            raise ModelFileError(f"{path} gives {model.output_shape[-1]} scores but its card "
                                 f"lists {len(self.labels)} labels")
        if tuple(model.input_shape[1:]) != self.input_shape:
            raise ModelFileError(f"{path} takes input {model.input_shape[1:]} but its card says {self.input_shape}")
        self._run = tf.function(lambda x: model(x, training=False), input_signature=[
            tf.TensorSpec([None, *self.input_shape], tf.float32)])
        self.scores(np.zeros((1, *self.input_shape), np.uint8))  # trace now, not on frame 1

    def scores(self, faces: np.ndarray | list[np.ndarray]) -> np.ndarray:
        """N x len(labels) probabilities for N uint8 48x48 faces (0-255 grey), or N clips."""
        batch = np.asarray(faces, dtype=np.float32).reshape(-1, *self.input_shape)
        if len(batch) == 0:
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        return self._run(batch).numpy()

    def scores_batched(self, faces: np.ndarray, batch_size: int = 512) -> np.ndarray:
        """Scores for a large set of faces, a batch at a time (evaluation)."""
        parts = [self.scores(faces[i:i + batch_size]) for i in range(0, len(faces), batch_size)]
        return np.concatenate(parts) if parts else self.scores([])
