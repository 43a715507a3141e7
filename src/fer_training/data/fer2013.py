"""Reads the FER2013 mosaics described in ../shared/data/README.md."""

import csv
import os
from pathlib import Path

import cv2
import numpy as np

SPLITS = {"Training": "train.webp", "PublicTest": "publictest.png", "PrivateTest": "privatetest.png"}
TILE = 48
TILES_PER_ROW = 100


DATA_DIR_VARIABLE = "FER_DATA_DIR"


def default_data_dir() -> Path:
    """$FER_DATA_DIR where set (a user's own copy of the data sets), else `../shared/data` beside
    the source checkout, else beside the working directory."""
    if os.environ.get(DATA_DIR_VARIABLE):
        return Path(os.environ[DATA_DIR_VARIABLE])
    beside_checkout = Path(__file__).resolve().parents[4] / "shared" / "data"
    return beside_checkout if beside_checkout.is_dir() else Path("../shared/data")


def load_split(data_dir: Path | str, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Return (images uint8 N x 48 x 48, labels int64 N) of one FER2013 split."""
    if split not in SPLITS:
        raise ValueError(f"unknown FER2013 split {split!r}; expected one of {sorted(SPLITS)}")
    folder = Path(data_dir) / "fer2013"
    labels = _read_labels(folder / "labels.csv", split)
    mosaic_path = folder / SPLITS[split]
    mosaic = cv2.imread(str(mosaic_path), cv2.IMREAD_GRAYSCALE)
    if mosaic is None:
        raise FileNotFoundError(f"cannot read FER2013 mosaic {mosaic_path}")
    rows = mosaic.shape[0] // TILE
    tiles = mosaic[: rows * TILE, : TILES_PER_ROW * TILE].reshape(rows, TILE, TILES_PER_ROW, TILE)
    tiles = tiles.transpose(0, 2, 1, 3).reshape(-1, TILE, TILE)
    return np.ascontiguousarray(tiles[: len(labels)]), labels


def _read_labels(path: Path, split: str) -> np.ndarray:
    if not path.is_file():
        raise FileNotFoundError(f"FER2013 labels not found: {path} (the data folder must hold fer2013/)")
    with open(path, newline="") as f:
        rows = [(int(r["index"]), int(r["label"])) for r in csv.DictReader(f) if r["split"] == split]
    rows.sort()
    if [i for i, _ in rows] != list(range(len(rows))):
        raise ValueError(f"{path}: indices of split {split} are not 0..{len(rows) - 1}")
    return np.array([label for _, label in rows], dtype=np.int64)
