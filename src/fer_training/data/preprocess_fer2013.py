"""fer-preprocess-fer2013: FER2013 re-cropped by the node's own detector and aligner.

The node's pipeline on every tile: upscale (240x240 for YuNet, the default detector; 480x480 for
HOG, which needs larger faces; YuNet misses faces that fill a 480x480 image), detect, find the
eyes, level the eye line, crop `x_factor` x `y_factor` eye distances (the node's defaults, or
`--x-factor`/`--y-factor` to measure another framing), smooth and resize to 48x48: the functions
the emotion node uses. Where no face is found the original tile is kept and counted.

Output (a folder outside the repository): `OUT/fer2013/` in the layout of
`../shared/data/fer2013/` (mosaics of 100 tiles a row, `train.webp` lossless, `publictest.png`,
`privatetest.png`, `labels.csv`, and the FER+ votes `ferplus.csv` with their licence where the
source has them), so `--data-dir OUT` works for training and evaluation, `--labels ferplus` and
`ferplus:` data sets included; plus `OUT/fer2013/detected.csv` (`split,index,detected`) and
`OUT/fer2013/report.json` (detection rate per split and per class).
"""

import argparse
import csv
import json
import shutil
import sys
from multiprocessing import Pool
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from fer_ros.vision.align import X_FACTOR, Y_FACTOR, FaceAligner
from fer_ros.vision.detect import DETECTORS, FaceDetector
from fer_ros.vision.labels import LABELS
from fer_training.data.fer2013 import SPLITS, TILE, TILES_PER_ROW, default_data_dir, load_split
from fer_training.data.ferplus import VOTES_FILE

VOTES_LICENCE = "LICENSE-FERPlus.md"

_aligner = None


def _align_tile(args: tuple[np.ndarray, str, int, float, float, float]) -> tuple[np.ndarray, bool]:
    """(48x48 aligned face, True), or (the original tile, False) when no face is found."""
    global _aligner
    tile, detector, upscale, threshold, x_factor, y_factor = args
    if _aligner is None:  # one per worker process
        _aligner = FaceAligner(FaceDetector(detector, min_score=threshold), x_factor, y_factor)
    faces = _aligner.faces(cv2.resize(tile, (upscale, upscale), interpolation=cv2.INTER_CUBIC))
    return (faces[0].crop, True) if faces else (tile, False)


def mosaic(tiles: np.ndarray) -> np.ndarray:
    """Tiles laid out 100 a row, padded with black, as the source files."""
    rows = -(-len(tiles) // TILES_PER_ROW)
    padded = np.zeros((rows * TILES_PER_ROW, TILE, TILE), np.uint8)
    padded[: len(tiles)] = tiles
    return padded.reshape(rows, TILES_PER_ROW, TILE, TILE).transpose(0, 2, 1, 3).reshape(rows * TILE, -1)


def write_mosaic(path: Path, tiles: np.ndarray) -> None:
    params = [cv2.IMWRITE_WEBP_QUALITY, 101] if path.suffix == ".webp" else []  # 101: lossless
    if not cv2.imwrite(str(path), mosaic(tiles), params):
        raise OSError(f"cannot write {path}")


def copy_votes(source: Path, target: Path, counts: dict[str, int]) -> None:
    """The FER+ votes (and their MIT notice) for the tiles written, so the folder serves FER+ too."""
    if not (source / VOTES_FILE).is_file():
        return
    with open(source / VOTES_FILE, newline="") as f:
        reader = csv.DictReader(f)
        rows = [r for r in reader if int(r["index"]) < counts.get(r["split"], 0)]
    with open(target / VOTES_FILE, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=reader.fieldnames)
        writer.writeheader()
        writer.writerows(rows)
    if (source / VOTES_LICENCE).is_file():
        shutil.copyfile(source / VOTES_LICENCE, target / VOTES_LICENCE)


def preprocess(data_dir: Path, out: Path, detector: str, upscale: int, threshold: float, workers: int,
               limit: int | None, framing: tuple[float, float], names: list[str]) -> dict:
    splits = {split: load_split(data_dir, split) for split in names}  # all readable before anything is written
    target = out / "fer2013"
    target.mkdir(parents=True, exist_ok=True)
    report: dict = {"detector": detector, "upscale": upscale, "detection_threshold": threshold,
                    "x_factor": framing[0], "y_factor": framing[1], "splits": {}}
    detected_rows, label_rows = [], []
    for split in names:
        tiles, labels = (a[:limit] for a in splits[split])
        with Pool(workers) as pool:
            jobs = [(t, detector, upscale, threshold, *framing) for t in tiles]
            results = list(tqdm(pool.imap(_align_tile, jobs, chunksize=64), total=len(tiles), desc=split, unit="img"))
        aligned = np.stack([r[0] for r in results]) if results else np.zeros((0, TILE, TILE), np.uint8)
        found = np.array([r[1] for r in results], dtype=bool)
        write_mosaic(target / SPLITS[split], aligned)
        per_class = {name: {"n": int(np.sum(labels == i)), "detected": int(np.sum(found & (labels == i)))}
                     for i, name in enumerate(LABELS)}
        report["splits"][split] = {"n": len(tiles), "detected": int(found.sum()),
                                   "rate": float(found.mean()) if len(found) else 0.0, "per_class": per_class}
        detected_rows += [(split, i, int(f)) for i, f in enumerate(found)]
        label_rows += [(split, i, int(label)) for i, label in enumerate(labels)]
    with open(target / "labels.csv", "w", newline="") as f:
        csv.writer(f).writerows([("split", "index", "label"), *label_rows])
    with open(target / "detected.csv", "w", newline="") as f:
        csv.writer(f).writerows([("split", "index", "detected"), *detected_rows])
    (target / "report.json").write_text(json.dumps(report, indent=1) + "\n")
    copy_votes(data_dir / "fer2013", target, {split: figures["n"] for split, figures in report["splits"].items()})
    return report


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", type=Path, default=default_data_dir(), help="folder holding fer2013/")
    p.add_argument("--out", type=Path, required=True, help="output folder (outside the repository)")
    p.add_argument("--detector", choices=DETECTORS, default="yunet", help="the node's detectors")
    p.add_argument("--upscale", type=int, help="tile size the detector sees (default: yunet 240, hog and haar 480)")
    p.add_argument("--threshold", type=float,
                   help="detection score (default: yunet 0.75 as the node; hog 0, dlib's default, since every "
                        "tile holds a face)")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--limit", type=int, help="only the first N images of each split (quick checks)")
    p.add_argument("--splits", nargs="+", choices=SPLITS, default=list(SPLITS), help="only these splits")
    p.add_argument("--x-factor", type=float, default=X_FACTOR, help="crop width in eye distances (node: x_factor)")
    p.add_argument("--y-factor", type=float, default=Y_FACTOR, help="crop height in eye distances (node: y_factor)")
    args = p.parse_args(argv)
    if (args.out.resolve() / "fer2013") == (args.data_dir.resolve() / "fer2013"):
        print("error: --out would overwrite the source data", file=sys.stderr)
        return 2
    if min(args.x_factor, args.y_factor) <= 0:
        print(f"error: --x-factor and --y-factor must be positive, got {args.x_factor}, {args.y_factor}",
              file=sys.stderr)
        return 2
    upscale = args.upscale or (240 if args.detector == "yunet" else 480)
    threshold = args.threshold if args.threshold is not None else {"yunet": 0.75}.get(args.detector, 0.0)
    try:
        report = preprocess(args.data_dir, args.out, args.detector, upscale, threshold, args.workers, args.limit,
                            (args.x_factor, args.y_factor), args.splits)
    except (OSError, ValueError) as e:  # no or damaged data, an output folder that cannot be written
        print(f"error: {e}", file=sys.stderr)
        return 2
    for split, figures in report["splits"].items():
        rates = ", ".join(f"{name} {c['detected']}/{c['n']}" for name, c in figures["per_class"].items())
        print(f"{split}: faces found in {figures['detected']}/{figures['n']} ({100 * figures['rate']:.1f} %): {rates}")
    return 0
