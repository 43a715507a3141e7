"""Layout of a model folder: the Keras file plus a JSON card that carries labels and provenance.

The label list travels with the weights and is checked against the model's output size at
load time, so a model trained on another class list fails at start, not silently.
"""

import json
from pathlib import Path
from typing import Any

from fer_ros.labels import LABELS

MODEL_FILE = "model.keras"
METADATA_FILE = "model.json"
SHIPPED_IMAGE_MODEL = Path(__file__).resolve().parent / "models" / "image"
SHIPPED_CLIP_MODELS = {name: SHIPPED_IMAGE_MODEL.parent / f"clip_{name}" for name in ("lstm", "c3d")}


class ModelFileError(RuntimeError):
    """A model folder is missing, incomplete or inconsistent."""


def write_metadata(folder: Path, arch: str, training: dict[str, Any], version: str = "1",
                   input_shape: tuple[int, ...] = (48, 48, 1)) -> Path:
    path = Path(folder) / METADATA_FILE
    card = {"name": arch, "version": version, "labels": list(LABELS), "input": list(input_shape),
            "input_range": [0, 255], "training": training}
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
