"""fer-export-model: write the TensorFlow Lite files the nodes run, next to a model's Keras file.

An image model gives `model.tflite`: one face in (1 x 48 x 48 x 1, grey 0-255), its scores and
its last feature map out; and `model_int8.tflite`, the same in int8 (post-training quantization
calibrated on 500 FER2013 Training faces from --data-dir; skipped, with a note, where there are
none). A clip model gives `model.tflite` (one clip of crops in, scores out)
and `head.tflite` (one clip of the image model's feature maps in, scores out: what the node
runs when the clip model's feature extractor is the image model's). The model card records,
per file, the sha256 of the Keras file it was made from; the runtime refuses a pair that does
not match. fer-train-image, fer-train-clips and fer-calibrate call this themselves; run it by
hand after changing a model.keras in another way.
"""

import argparse
import contextlib
import json
import os
import sys
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from fer_ros.vision.model_files import (
    HEAD_FILE,
    INT8_FILE,
    LITE_FILE,
    METADATA_FILE,
    MODEL_FILE,
    ModelFileError,
    read_metadata,
    sha256_of,
)
from fer_training.data.fer2013 import default_data_dir, load_split

if TYPE_CHECKING:
    import keras  # loaded where it is used: --help answers before TensorFlow starts

INT8_CALIBRATION_FACES = 500


def _all_layers(model):
    for layer in model.layers:
        yield layer
        if hasattr(layer, "layers"):
            yield from _all_layers(layer)


def _lite(model, calibration: np.ndarray | None = None) -> bytes:
    """A TensorFlow Lite flat buffer of a Keras model, for a batch of one; with `calibration`
    inputs, weights and activations in int8 (post-training quantization; float in and out)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import tensorflow as tf

    for layer in _all_layers(model):
        if isinstance(layer, keras.layers.RNN):
            layer.unroll = True  # TensorFlow Lite's while loop over LSTM state reads uninitialised variables
    inputs = keras.Input(batch_shape=(1, *model.input_shape[1:]), name="input")
    outputs = model(inputs, training=False)
    fixed = keras.Model(inputs, outputs if isinstance(outputs, (list, tuple)) else [outputs])
    converter = tf.lite.TFLiteConverter.from_keras_model(fixed)
    if calibration is not None:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: ([x[None, ..., None].astype(np.float32)] for x in calibration)
    try:
        with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Keras prints the export; int8 warns of float inputs, as meant
            return converter.convert()
    except Exception as e:  # the converter's errors run to pages of MLIR: keep the first lines
        raise ModelFileError("TensorFlow Lite cannot convert the model: " + "\n".join(str(e).splitlines()[:3])) from e


def load_keras_model(folder: Path) -> "keras.Model":
    """A model folder's Keras model (uncompiled), image or clip model; ModelFileError naming the
    file if it is missing or damaged."""
    import keras

    import fer_training.training.models  # noqa: F401  registers the custom layers for loading

    keras_path = Path(folder) / MODEL_FILE
    if not keras_path.is_file():
        raise ModelFileError(f"{keras_path} not found: an installed package holds only the .tflite files; the Keras "
                             "files are in the source tree (git clone), or in your own training command's output")
    try:
        return keras.saving.load_model(keras_path, compile=False)
    except Exception as e:  # Keras raises many types for a missing or damaged zip/h5
        raise ModelFileError(f"cannot load model file {keras_path}: {e}") from e


def load_image_model(folder: Path) -> "keras.Model":
    """`load_keras_model` for the tools that need an image model (--init, --teachers, --image-model,
    --models): a clip model's folder is named as the wrong kind here, not found out in a traceback later."""
    import fer_training.training.models as models

    model = load_keras_model(folder)
    if model.name not in models.FEATURE_LAYERS:
        raise ModelFileError(f"{Path(folder) / MODEL_FILE}: not an image model (one of "
                             f"{sorted(models.FEATURE_LAYERS)}): {model.name!r}")
    return model


def export(folder: Path | str, int8_data_dir: Path | None = None) -> list[Path]:
    """Write the folder's .tflite files from its model.keras and record them in its card; with
    `int8_data_dir`, an image model's int8 file too, calibrated on FER2013 Training faces from there."""
    import keras

    import fer_training.training.models as models

    folder = Path(folder)
    keras_path = folder / MODEL_FILE
    card = read_metadata(folder)
    model = load_keras_model(folder)
    names = [layer.name for layer in model.layers]
    card.pop("quantization", None)
    if "trunk" in names:  # a clip model: make_clip_model(trunk, head)
        files = {LITE_FILE: (model, None), HEAD_FILE: (model.layers[-1], None)}
    elif model.name in models.FEATURE_LAYERS:
        trunk = models.image_trunk(model)
        with_features = keras.Model(model.input, [model.output, trunk.output])
        files = {LITE_FILE: (with_features, None)}
        card["features"] = list(trunk.output_shape[1:])
        if int8_data_dir is not None:
            faces, _ = load_split(int8_data_dir, "Training")
            rows = np.random.default_rng(0).choice(len(faces), INT8_CALIBRATION_FACES, replace=False)
            files[INT8_FILE] = (with_features, faces[rows])
            card["quantization"] = (f"{INT8_FILE}: int8 weights and activations, float in and out, calibrated on "
                                    f"{INT8_CALIBRATION_FACES} FER2013 Training faces (seed 0)")
    else:
        raise ModelFileError(f"{keras_path}: neither an image model of {sorted(models.FEATURE_LAYERS)} "
                             "nor a clip model (fer_training.training.models)")
    digest = sha256_of(keras_path)
    (folder / INT8_FILE).unlink(missing_ok=True)  # never left behind from another Keras file
    written = []
    for name, (part, calibration) in files.items():
        (folder / name).write_bytes(_lite(part, calibration))
        written.append(folder / name)
    card["export"] = {name: {"from": MODEL_FILE, "keras_sha256": digest} for name in files}
    (folder / METADATA_FILE).write_text(json.dumps(card, indent=2) + "\n")
    return written


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("folders", type=Path, nargs="+", metavar="DIR", help="model folder (model.keras + model.json)")
    p.add_argument("--data-dir", type=Path, default=default_data_dir(),
                   help="folder holding fer2013/, whose Training faces calibrate the int8 file")
    args = p.parse_args(argv)
    int8_data = args.data_dir if (args.data_dir / "fer2013" / "labels.csv").is_file() else None
    if int8_data is None:
        print(f"note: no FER2013 in {args.data_dir}: no int8 file (float only)", file=sys.stderr)
    for folder in args.folders:
        try:
            written = export(folder, int8_data)
        except (ModelFileError, OSError, ValueError) as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        print(f"{folder}: wrote {', '.join(p.name for p in written)}")
    return 0
