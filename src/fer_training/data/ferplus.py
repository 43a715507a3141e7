"""FER+ crowd votes (Barsoum et al., ICMI 2016) for the FER2013 tiles: `fer2013/ferplus.csv`.

Ten annotators voted on every image. Two uses:
- evaluation against the FER+ majority (FERPlus' own rule, `majority`), leaving out images whose
  majority is contempt, unknown or not-a-face, or that have none;
- training targets: the votes for the 7 FER2013 classes as a distribution (`vote_targets`).
"""

import csv
from pathlib import Path

import numpy as np

from fer_ros.vision.labels import LABELS

VOTES_FILE = "ferplus.csv"
# FER+ vote columns in the file's order; the first 7 are FER2013 classes, the rest are not.
VOTE_COLUMNS = ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear",
                "contempt", "unknown", "NF")
FER_INDEX = {"anger": 0, "disgust": 1, "fear": 2, "happiness": 3, "sadness": 4, "surprise": 5, "neutral": 6}
OUTSIDE = ("contempt", "unknown", "NF")
NO_MAJORITY = "no majority"
# Why an image has no FER+ label among the 7 classes (the report counts each).
LEFT_OUT_REASONS = (*OUTSIDE, NO_MAJORITY)


def load_votes(data_dir: Path | str, split: str) -> np.ndarray:
    """Vote counts, N x 10 in `VOTE_COLUMNS` order, row i for tile i of the split."""
    path = Path(data_dir) / "fer2013" / VOTES_FILE
    if not path.is_file():
        raise FileNotFoundError(f"FER+ votes not found: {path} (the data folder must hold fer2013/{VOTES_FILE})")
    with open(path, newline="") as f:
        rows = sorted((int(r["index"]), [int(r[c]) for c in VOTE_COLUMNS])
                      for r in csv.DictReader(f) if r["split"] == split)
    if not rows:
        raise ValueError(f"{path}: no rows for split {split!r}")
    if [i for i, _ in rows] != list(range(len(rows))):
        raise ValueError(f"{path}: indices of split {split} are not 0..{len(rows) - 1}")
    return np.array([v for _, v in rows], dtype=np.int64)


def majority(votes: np.ndarray) -> tuple[np.ndarray, list[str | None]]:
    """FERPlus' majority rule per image: classes with at most one vote are dropped; the top class
    must then hold more than half of the votes that remain. Returns (FER2013 label or -1, the
    reason an image is left out or None)."""
    kept = np.where(votes > 1, votes, 0)
    labels = np.full(len(votes), -1, dtype=np.int64)
    reasons: list[str | None] = []
    for i, row in enumerate(kept):
        top = int(np.argmax(row))
        if row.sum() == 0 or row[top] * 2 <= row.sum():
            reasons.append(NO_MAJORITY)
        elif VOTE_COLUMNS[top] in OUTSIDE:
            reasons.append(VOTE_COLUMNS[top])
        else:
            labels[i] = FER_INDEX[VOTE_COLUMNS[top]]
            reasons.append(None)
    return labels, reasons


def vote_targets(votes: np.ndarray, original: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Training targets: per image the normalised votes for the 7 classes (FER2013 order), single
    votes dropped as annotator noise where more remain; contempt, unknown and not-a-face votes
    carry no class and are left out of the distribution. `original` (the FER2013 label) counts as
    one more vote when given. Returns (targets N x 7, usable mask): an image with no vote left for
    the 7 classes, or whose votes are mostly not-a-face, is not usable."""
    classes = np.zeros((len(votes), len(LABELS)), dtype=np.float64)
    for column, name in enumerate(VOTE_COLUMNS[:7]):
        classes[:, FER_INDEX[name]] = votes[:, column]
    if original is not None:
        classes[np.arange(len(votes)), original] += 1
    denoised = np.where(classes > 1, classes, 0)
    classes = np.where(denoised.sum(axis=1, keepdims=True) > 0, denoised, classes)
    total = classes.sum(axis=1)
    not_face = votes[:, VOTE_COLUMNS.index("NF")] * 2 > votes.sum(axis=1)
    usable = (total > 0) & ~not_face
    targets = classes / np.maximum(total, 1)[:, None]
    return targets.astype(np.float32), usable


def split_labels(data_dir: Path | str, split: str, source: str, original: np.ndarray) -> np.ndarray:
    """The labels of a split for a model trained on `source`: FER2013's own (`original`), or, for
    one trained on the votes ("ferplus", "mix"), the FER+ majority (-1 where an image has none
    among the 7 classes)."""
    return original if source == "fer2013" else majority(load_votes(data_dir, split))[0]


def left_out_counts(reasons: list[str | None]) -> dict[str, int]:
    return {reason: sum(r == reason for r in reasons) for reason in LEFT_OUT_REASONS}


def training_targets(data_dir: Path, source: str, y_train: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(targets N x 7, usable mask) of the Training tiles for fer-train-image's `--labels`:
    FER2013's labels one-hot, the FER+ votes as distributions, or both (mix)."""
    if source == "fer2013":
        return np.eye(len(LABELS), dtype=np.float32)[y_train], np.ones(len(y_train), dtype=bool)
    return vote_targets(load_votes(data_dir, "Training"), y_train if source == "mix" else None)


def target_prior(targets: np.ndarray) -> np.ndarray:
    """Mean target distribution over the training images: the class prior a model learns."""
    return targets.mean(axis=0) / targets.mean(axis=0).sum()
