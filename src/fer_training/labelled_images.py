"""Labelled image sources shared by fer-evaluate and fer-make-bag.

- `jaffe`: full 256x256 photographs (`jaffe/labels.csv`, column `label`): the detector and
  aligner must find the face.
- `ckplus`: 48x48 face crops (`ckplus48/labels.csv`, column `fer_label`); contempt
  (`fer_label` -1, no FER2013 class) is left out.
- `folder:PATH`: `PATH/<class>/*.png|jpg`, class folders named by our label list.
"""

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from fer_ros.labels import LABELS

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".pgm"}


@dataclass(frozen=True)
class LabelledImage:
    name: str
    image: np.ndarray  # uint8 grey or BGR
    label: int         # FER2013 index
    is_crop: bool      # already a 48x48-style face crop (classify directly)


def read_image(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise ValueError(f"cannot read image {path}")
    return image


def _from_csv(root: Path, csv_name: str, label_column: str, is_crop: bool) -> Iterator[LabelledImage]:
    path = root / csv_name
    if not path.is_file():
        raise FileNotFoundError(f"labels file not found: {path}")
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            label = int(row[label_column])
            if label >= 0:
                yield LabelledImage(row["file"], read_image(root / row["file"]), label, is_crop)


def _from_folder(root: Path) -> Iterator[LabelledImage]:
    if not root.is_dir():
        raise FileNotFoundError(f"image folder not found: {root}")
    unknown = sorted(p.name for p in root.iterdir() if p.is_dir() and p.name not in LABELS)
    if unknown:
        raise ValueError(f"{root}: class folders {unknown} are not among {list(LABELS)}")
    for label, name in enumerate(LABELS):
        for path in sorted((root / name).glob("*")) if (root / name).is_dir() else []:
            if path.suffix.lower() in IMAGE_SUFFIXES:
                image = read_image(path)
                yield LabelledImage(f"{name}/{path.name}", image, label,
                                    is_crop=max(image.shape[:2]) <= 64)


def labelled_images(dataset: str, data_dir: Path) -> Iterator[LabelledImage]:
    """The images of `dataset` (jaffe, ckplus or folder:PATH) in a fixed order."""
    if dataset == "jaffe":
        return _from_csv(Path(data_dir) / "jaffe", "labels.csv", "label", is_crop=False)
    if dataset == "ckplus":
        return _from_csv(Path(data_dir) / "ckplus48", "labels.csv", "fer_label", is_crop=True)
    if dataset.startswith("folder:"):
        return _from_folder(Path(dataset.split(":", 1)[1]))
    raise ValueError(f"unknown dataset {dataset!r}; expected jaffe, ckplus or folder:PATH")
