"""fer-make-clips: synthetic 12-frame clips from FER2013 stills, in extract_frames' layout.

No video emotion data set is available to this project; these clips stand in for one (see
`fer_training.data.synthetic_clips` for what varies from frame to frame). Every figure measured on
them is a figure on synthetic clips.

Output: `OUT/<split>/<class>/<still index>/frame_000.png ... frame_011.png + clip.json`, i.e.
extract_frames' `DST/<subject>/<clip>/` with DST = `OUT/<split>` and a class folder as subject,
so `create_list -s OUT/Training -d train.csv` lists them with their labels. Training clips come
from Training stills, selection clips from PublicTest, report clips from PrivateTest.
The clips are the same ones fer-train-clips and fer-evaluate-clips build in memory (same seed).
"""

import argparse
from pathlib import Path

from tqdm import tqdm

from fer_ros.vision.labels import LABELS
from fer_training.data.clip_folders import is_finished, write_clip
from fer_training.data.fer2013 import SPLITS, default_data_dir
from fer_training.data.synthetic_clips import synthesize_split


def make_clips(data_dir: Path, out: Path, splits: list[str], seed: int, limit: int | None) -> dict[str, int]:
    written = {}
    for split in splits:
        clips, labels, indices = synthesize_split(data_dir, split, seed, limit)
        count = 0
        for frames, label, index in tqdm(zip(clips, labels, indices), total=len(clips), desc=split, unit="clip"):
            folder = out / split / LABELS[label] / f"{index:05d}"
            if not is_finished(folder):
                write_clip(folder, frames, {"source": f"fer2013:{split}:{index}", "seed": seed, "synthetic": True})
                count += 1
        written[split] = count
    return written


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, required=True, help="output folder (outside the repository)")
    p.add_argument("--data-dir", type=Path, default=default_data_dir(), help="folder holding fer2013/")
    p.add_argument("--splits", nargs="+", choices=list(SPLITS), default=list(SPLITS))
    p.add_argument("--limit", type=int, help="N stills drawn at random per split (default: all)")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args(argv)
    for split, count in make_clips(args.data_dir, args.out, args.splits, args.seed, args.limit).items():
        print(f"{split}: {count} clips written to {args.out / split}")
    return 0
