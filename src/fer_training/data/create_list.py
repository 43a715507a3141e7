"""create_list: one row per extracted clip with its frame paths and emotion label.

Reads the clip folders that `extract_frames` (or `fer-make-clips`) wrote under SRC and writes a
clip list (CSV `clip,label,frames`, see `fer_training.data.clip_folders`) for fer-train-clips and
fer-evaluate-clips. Labels come from, in this order:

1. `--annotations CSV`, either
   - a plain `clip,label` CSV: `clip` is the clip's folder name or its path under SRC
     (`subject/clip`), with or without the video suffix; `label` a class name or FER2013 index; or
   - a data set's annotation sheet exported as CSV (e.g. BAUM-2's): the first column whose
     header contains "clip", "video", "file" or "name" names the clip, the first whose header
     contains "emotion", "label" or "class" gives the emotion as a word (anger, happiness,
     sadness, surprise, fear, disgust, neutral and their variants).
2. otherwise a class among the clip's parent folders (`SRC/<class>/<clip>/`, as
   fer-make-clips writes, or `SRC/<subject>/<class>/<clip>/`), named by a class (`happy/`) or an
   annotation word (`happiness/`, `anger/`, `sadness/`).

Clips with an emotion outside the 7 FER2013 classes (e.g. contempt) or with no label are left
out and counted.

Example: create_list -s frames/ -d clips.csv --annotations baum2_annotations.csv
"""

import argparse
import csv
import sys
from pathlib import Path

from fer_ros.vision.labels import LABELS
from fer_training.data.clip_folders import ListedClip, finished_clips, frame_files, write_list
from fer_training.data.extract_frames import VIDEO_SUFFIXES
from fer_training.data.labelled_images import parse_label

SYNONYMS = {"anger": "angry", "disgusted": "disgust", "fearful": "fear", "afraid": "fear", "happiness": "happy",
            "joy": "happy", "sadness": "sad", "surprised": "surprise", "neutrality": "neutral"}
CLIP_COLUMNS = ("clip", "video", "file", "name")
LABEL_COLUMNS = ("emotion", "label", "class")
# Real emotions and states with no FER2013 class (BAUM-2's other states, CK+'s contempt): left out, counted.
OTHER_EMOTIONS = ("contempt", "boredom", "unsure", "confusion", "thinking", "concentrating", "bothered",
                  "interest", "other")
NOT_FER = -1


def emotion_index(text: str) -> int:
    """FER2013 index of an emotion word (a class name or an annotation word such as anger,
    happiness, sadness) or index; NOT_FER for a known emotion outside the 7 classes. Any
    other word (a misspelling) is refused with the words accepted."""
    word = text.strip().lower()
    if word in OTHER_EMOTIONS:
        return NOT_FER
    try:
        return parse_label(SYNONYMS.get(word, word))
    except ValueError:
        accepted = sorted({*LABELS, *SYNONYMS, *OTHER_EMOTIONS})
        raise ValueError(f"unknown emotion {text.strip()!r}; expected one of {', '.join(accepted)} "
                         "or a FER2013 index 0-6") from None


def folder_class(name: str) -> int | None:
    """FER2013 index of a class folder named by a class or an annotation word (anger/, happiness/)."""
    word = name.lower()
    word = SYNONYMS.get(word, word)
    return LABELS.index(word) if word in LABELS else None


def _column(header: list[str], keys: tuple[str, ...]) -> int | None:
    for key in keys:
        for i, name in enumerate(header):
            if key in name.strip().lower():
                return i
    return None


def read_annotations(path: Path) -> dict[str, int]:
    """Clip key (lower-case, no suffix) -> FER2013 index (NOT_FER for other emotions)."""
    with open(path, newline="", encoding="utf-8-sig") as f:
        rows = [r for r in csv.reader(f) if any(cell.strip() for cell in r)]
    if not rows:
        raise ValueError(f"{path} is empty")
    clip_col, label_col = _column(rows[0], CLIP_COLUMNS), _column(rows[0], LABEL_COLUMNS)
    if clip_col is None or label_col is None:  # no header: plain clip,label rows
        clip_col, label_col = 0, 1
    else:
        rows = rows[1:]
    table = {}
    for number, row in enumerate(rows, start=2):
        try:
            table[_key(row[clip_col])] = emotion_index(row[label_col])
        except (IndexError, ValueError) as e:
            raise ValueError(f"{path}, row {number}: {e}") from e
    return table


def _key(clip: str) -> str:
    path = Path(clip.strip().replace("\\", "/"))
    return str(path.with_suffix("") if path.suffix.lower() in VIDEO_SUFFIXES
               else path).lower()


def clip_label(folder: Path, src: Path, annotations: dict[str, int] | None) -> int | None:
    relative = folder.relative_to(src)
    if annotations is not None:
        for key in (str(relative).lower(), folder.name.lower()):
            if key in annotations:
                return annotations[key]
        return None
    classes = [folder_class(part) for part in relative.parts[:-1] if folder_class(part) is not None]
    return classes[-1] if classes else None


def create_list(src: Path, dst: Path, annotations: Path | None = None) -> dict:
    table = read_annotations(annotations) if annotations else None
    listed, unlabelled, other_emotion = [], [], []
    for folder in finished_clips(src):
        label = clip_label(folder, src, table)
        if label is None:
            unlabelled.append(folder)
        elif label == NOT_FER:
            other_emotion.append(folder)
        else:
            listed.append(ListedClip(folder, label, tuple(frame_files(folder))))
    write_list(dst, listed)
    return {"listed": len(listed), "unlabelled": [str(f) for f in unlabelled],
            "other_emotion": [str(f) for f in other_emotion],
            "per_class": {name: sum(c.label == i for c in listed) for i, name in enumerate(LABELS)}}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="create_list", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-s", "--src", type=Path, required=True, help="folder of extracted clips")
    p.add_argument("-d", "--dst", type=Path, required=True, help="clip list to write (CSV)")
    p.add_argument("--annotations", type=Path, help="clip,label CSV or an exported annotation sheet")
    args = p.parse_args(argv)
    if not args.src.is_dir():
        print(f"error: {args.src} is not a folder", file=sys.stderr)
        return 2
    try:
        summary = create_list(args.src, args.dst, args.annotations)
    except (OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    counts = ", ".join(f"{name} {n}" for name, n in summary["per_class"].items())
    print(f"{summary['listed']} clips listed in {args.dst} ({counts}); "
          f"{len(summary['other_emotion'])} with an emotion outside the 7 classes and "
          f"{len(summary['unlabelled'])} without a label left out")
    for folder in summary["unlabelled"][:10]:
        print(f"no label: {folder}")
    return 0
