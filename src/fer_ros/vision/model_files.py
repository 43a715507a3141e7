"""Layout of a model folder: the Keras file (training), the TensorFlow Lite files made from it
(what the nodes run) and a JSON card that carries labels, provenance and which Keras file each
TensorFlow Lite file was made from.

The label list travels with the weights and is checked against the model's output size at
load time, so a model trained on another class list fails at start, not silently.
"""

import hashlib
import json
from pathlib import Path
from typing import Any

from fer_ros.vision.labels import LABELS

MODEL_FILE = "model.keras"
LITE_FILE = "model.tflite"   # image model: face -> (scores, feature map); clip model: crops -> scores
HEAD_FILE = "head.tflite"    # clip model: the image model's feature maps of a clip -> scores
INT8_FILE = "model_int8.tflite"  # image model in int8 (post-training quantization), when exported
PRECISIONS = ("auto", "float", "int8")  # auto: int8 where the folder has it, else float
METADATA_FILE = "model.json"
SHIPPED_IMAGE_MODEL = Path(__file__).resolve().parents[1] / "models" / "image"
SHIPPED_IMAGE_MODEL_V3 = SHIPPED_IMAGE_MODEL.parent / "image_v3"  # the FER+ crowd, no distillation (model_dir)
SHIPPED_IMAGE_MODEL_V2 = SHIPPED_IMAGE_MODEL.parent / "image_v2"  # FER2013 labels only, for comparison (model_dir)
SHIPPED_IMAGE_MODEL_V1 = SHIPPED_IMAGE_MODEL.parent / "image_v1"  # DeXpression, for comparison (model_dir)
SHIPPED_CLIP_MODELS = {name: SHIPPED_IMAGE_MODEL.parent / f"clip_{name}" for name in ("lstm", "c3d")}


class ModelFileError(RuntimeError):
    """A model folder is missing, incomplete or inconsistent."""


def write_metadata(folder: Path, arch: str, training: dict[str, Any], version: str,
                   input_shape: tuple[int, ...] = (48, 48, 1), **extra: Any) -> Path:
    """The card of a freshly trained model (named `<arch>-v<version>` by the nodes); `extra` keys
    (e.g. `features_from`) are added as given."""
    path = Path(folder) / METADATA_FILE
    card = {"name": arch, "version": version, "labels": list(LABELS), "input": list(input_shape),
            "input_range": [0, 255], "training": training, **extra}
    path.write_text(json.dumps(card, indent=2) + "\n")
    return path


def read_metadata(folder: Path | str) -> dict[str, Any]:
    path = Path(folder) / METADATA_FILE
    try:
        card = json.loads(path.read_text())
    except FileNotFoundError as e:
        raise ModelFileError(f"model card not found: {path}") from e
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ModelFileError(f"model card is not valid JSON: {path}: {e}") from e
    for key in ("name", "version", "labels"):
        if key not in card:
            raise ModelFileError(f"model card {path} lacks the key {key!r}")
    return card


def sha256_of(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def lite_file(folder: Path | str, name: str, card: dict[str, Any]) -> Path:
    """The path of a TensorFlow Lite file of the folder, refused when it is missing or was not
    made from the Keras file beside it (a model retrained or replaced without re-export)."""
    folder = Path(folder)
    path = folder / name
    if not path.is_file():
        raise ModelFileError(f"model file not found: {path} (write it with: fer-export-model {folder})")
    made_from = card.get("export", {}).get(name, {}).get("keras_sha256")
    if made_from is None:
        raise ModelFileError(f"model card {folder / METADATA_FILE} does not say which {MODEL_FILE} {name} was made "
                             f"from (re-export: fer-export-model {folder})")
    keras_path = folder / MODEL_FILE
    if keras_path.is_file() and sha256_of(keras_path) != made_from:
        raise ModelFileError(f"{path} was not made from {keras_path} (sha256 differs from the card's): "
                             f"re-export with: fer-export-model {folder}")
    return path
