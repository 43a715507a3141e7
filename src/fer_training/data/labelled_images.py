"""Labelled image sources shared by fer-evaluate and fer-make-bag.

- `jaffe`: full 256x256 photographs (`jaffe/labels.csv`, column `label`): the detector and
  aligner must find the face.
- `ckplus`: 48x48 face crops (`ckplus48/labels.csv`, column `fer_label`); contempt
  (`fer_label` -1, no FER2013 class) is left out.
- `folder:PATH`: `PATH/<class>/*.png|jpg`, class folders named by our label list; or, with a
  labels CSV (`file,label` rows, `file` relative to PATH, `label` a class name or FER2013
  index), any image folder.
"""

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from fer_ros.vision.labels import LABELS

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


def parse_label(text: str) -> int:
    """A FER2013 index from a class name or an index (-1 = no FER2013 class, e.g. contempt)."""
    text = text.strip().lower()
    if text.lstrip("-").isdigit() and -1 <= int(text) < len(LABELS):
        return int(text)
    if text in LABELS:
        return LABELS.index(text)
    raise ValueError(f"unknown label {text!r}; expected one of {list(LABELS)} or 0-6")


def _from_csv(root: Path, path: Path, label_column: str, is_crop: bool | None,
              with_unmapped: bool = False) -> Iterator[LabelledImage]:
    if not path.is_file():
        raise FileNotFoundError(f"labels file not found: {path}")
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            label = parse_label(row[label_column])
            if label >= 0 or with_unmapped:
                image = read_image(root / row["file"])
                crop = max(image.shape[:2]) <= 64 if is_crop is None else is_crop
                yield LabelledImage(row["file"], image, label, crop)


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


def labelled_images(dataset: str, data_dir: Path, labels_csv: Path | None = None,
                    with_unmapped: bool = False) -> Iterator[LabelledImage]:
    """The images of `dataset` (jaffe, ckplus or folder:PATH) in a fixed order; with
    `with_unmapped`, also those whose emotion has no FER2013 class (label -1: CK+ contempt)."""
    if dataset == "jaffe":
        root = Path(data_dir) / "jaffe"
        return _from_csv(root, root / "labels.csv", "label", is_crop=False)
    if dataset == "ckplus":
        root = Path(data_dir) / "ckplus48"
        return _from_csv(root, root / "labels.csv", "fer_label", is_crop=True, with_unmapped=with_unmapped)
    if dataset.startswith("folder:"):
        root = Path(dataset.split(":", 1)[1])
        return _from_folder(root) if labels_csv is None else _from_csv(root, labels_csv, "label", None,
                                                                         with_unmapped)
    raise ValueError(f"unknown dataset {dataset!r}; expected jaffe, ckplus or folder:PATH")
