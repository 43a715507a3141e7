"""The on-disk layout of aligned clips, shared by extract_frames, fer-make-clips and create_list.

A clip is a folder of its own, `DST/<subject>/<clip>/`, holding `frame_000.png` ... (48x48 grey,
numbered in time order; whole frames with `extract_frames --raw`) and `clip.json`, written last:
its presence marks a finished clip, so an interrupted run resumes where it stopped.

A clip list (`create_list`) is a CSV file with the header `clip,label,frames`: the clip folder,
its label (a name from `fer_ros.vision.labels.LABELS`) and its frame files joined by `;`. Paths are
relative to the list file's folder, so a list moves with its clips.
"""

import csv
import json
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from fer_ros.vision.labels import LABELS

FRAME_NAME = "frame_{:03d}.png"
CLIP_INFO = "clip.json"
LIST_HEADER = ("clip", "label", "frames")


def write_clip(folder: Path, frames: np.ndarray | list[np.ndarray], info: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for t, frame in enumerate(frames):
        path = folder / FRAME_NAME.format(t)
        if not cv2.imwrite(str(path), frame):
            raise OSError(f"cannot write {path}")
    (folder / CLIP_INFO).write_text(json.dumps(info, indent=1) + "\n")


def is_finished(folder: Path) -> bool:
    return (folder / CLIP_INFO).is_file()


def frame_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("frame_*.png"))


def finished_clips(root: Path) -> list[Path]:
    """Every finished clip folder under `root`, sorted."""
    return sorted(path.parent for path in Path(root).rglob(CLIP_INFO))


@dataclass(frozen=True)
class ListedClip:
    folder: Path
    label: int  # FER2013 index
    frames: tuple[Path, ...]

    def read(self) -> np.ndarray:
        """T x 48 x 48 uint8 grey frames."""
        frames = [cv2.imread(str(path), cv2.IMREAD_GRAYSCALE) for path in self.frames]
        missing = [str(path) for path, frame in zip(self.frames, frames) if frame is None]
        if missing:
            raise ValueError(f"cannot read frames of clip {self.folder}: {', '.join(missing)}")
        return np.stack(frames)


def write_list(path: Path, clips: list[ListedClip]) -> None:
    base = Path(path).resolve().parent

    def rel(p: Path) -> str:
        return os.path.relpath(Path(p).resolve(), base)

    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(LIST_HEADER)
        for clip in clips:
            writer.writerow((rel(clip.folder), LABELS[clip.label], ";".join(rel(p) for p in clip.frames)))


def read_list(path: Path) -> list[ListedClip]:
    base = Path(path).resolve().parent
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        if tuple(reader.fieldnames or ()) != LIST_HEADER:
            raise ValueError(f"{path} is not a clip list: header {reader.fieldnames}, expected {list(LIST_HEADER)}")
        clips = []
        for number, row in enumerate(reader, start=2):
            if row["label"] not in LABELS:
                raise ValueError(f"{path}, row {number}: unknown label {row['label']!r}")
            clips.append(ListedClip(base / row["clip"], LABELS.index(row["label"]),
                                    tuple(base / p for p in row["frames"].split(";"))))
        return clips


def load_clips(path: Path, length: int) -> tuple[np.ndarray, np.ndarray]:
    """(clips N x length x 48 x 48 uint8, labels N) of a clip list; every clip must hold `length` frames."""
    listed = read_list(path)
    wrong = [str(c.folder) for c in listed if len(c.frames) != length]
    if wrong:
        raise ValueError(f"{len(wrong)} clip(s) of {path} do not hold {length} frames, e.g. {wrong[0]}")
    if not listed:
        raise ValueError(f"{path} lists no clips")
    return np.stack([c.read() for c in listed]), np.array([c.label for c in listed], dtype=np.int64)
