"""extract_frames: N evenly spaced, aligned 48x48 face frames from every video clip.

SRC holds subject folders with video clips (the BAUM-2 layout: copy all subject folders into one
directory); any depth of sub-folders works. Every clip becomes `DST/<subject>/<clip>/` with
`frame_000.png` ... `frame_<N-1>.png` in time order and `clip.json` (source, frame indices, which
frames were filled), found by the same detector and aligner as the emotion node (largest face).
A frame where no face is found is filled with the nearest frame where one was (and counted);
a clip with no face at all, fewer than N frames, or that cannot be decoded is reported and
skipped. Finished clips (their `clip.json` exists) are skipped, so an interrupted run resumes.
`--raw` keeps the whole frames instead of aligned faces.

Example: extract_frames -s BAUM2/ -d frames/ -n 12 && create_list -s frames/ -d clips.csv
"""

import argparse
import sys
from collections import Counter
from multiprocessing import Pool
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from fer_training.data.clip_folders import is_finished, write_clip

VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".mpg", ".mpeg", ".wmv", ".m4v", ".webm", ".flv"}

_aligner = None


def find_videos(src: Path) -> list[Path]:
    return sorted(p for p in src.rglob("*") if p.suffix.lower() in VIDEO_SUFFIXES and p.is_file())


def clip_folder(video: Path, src: Path, dst: Path) -> Path:
    """DST/<subject folders>/<clip name without suffix>/."""
    return dst / video.relative_to(src).with_suffix("")


def read_frames(video: Path, count: int) -> tuple[list[np.ndarray], list[int]]:
    """`count` frames evenly spaced over the clip, with their indices. Decoded twice (count,
    then pick): containers' frame counts are often wrong, so they are not trusted."""
    capture = cv2.VideoCapture(str(video))
    total = 0
    while capture.isOpened() and capture.grab():
        total += 1
    capture.release()
    if total == 0:
        raise ValueError("unreadable: no frame could be decoded")
    if total < count:
        raise ValueError(f"too few frames ({total} < {count})")
    wanted = np.linspace(0, total - 1, count).round().astype(int).tolist()
    capture = cv2.VideoCapture(str(video))
    frames: list[np.ndarray] = []
    for index in range(total):
        if not capture.grab():
            break
        if index in wanted:
            ok, frame = capture.retrieve()
            if ok:
                frames.append(frame)
    capture.release()
    if len(frames) != count:
        raise ValueError(f"unreadable: decoding stopped after {len(frames)} of {count} chosen frames")
    return frames, wanted


def fill_missing(crops: list[np.ndarray | None]) -> tuple[list[np.ndarray], list[int]]:
    """Each missing crop replaced by the nearest found one (the earlier on a tie)."""
    found = [i for i, c in enumerate(crops) if c is not None]
    if not found:
        raise ValueError("no face found in any frame")
    filled = [i for i, c in enumerate(crops) if c is None]
    return [crops[i] if crops[i] is not None else crops[min(found, key=lambda j: (abs(j - i), j))]
            for i in range(len(crops))], filled


def extract_clip(job: tuple[Path, Path, int, bool]) -> tuple[str, str, int]:
    """(video, outcome, filled frames): outcome "done", "finished before", or the reason it was skipped."""
    global _aligner
    video, folder, count, raw = job
    if is_finished(folder):
        return str(video), "finished before", 0
    try:
        frames, indices = read_frames(video, count)
        if raw:
            out, filled = frames, []
        else:
            if _aligner is None:  # one per worker process
                from fer_ros.vision.align import FaceAligner

                _aligner = FaceAligner(max_faces=1)
            out, filled = fill_missing([(faces[0].crop if (faces := _aligner.faces(f)) else None)
                                        for f in frames])
        write_clip(folder, out, {"source": str(video), "frame_indices": indices, "filled": filled,
                                 "raw": raw})
    except (ValueError, OSError, cv2.error) as e:
        return str(video), str(e), 0
    return str(video), "done", len(filled)


def extract(src: Path, dst: Path, count: int, raw: bool = False, workers: int = 2) -> dict:
    videos = find_videos(src)
    jobs = [(v, clip_folder(v, src, dst), count, raw) for v in videos]
    with Pool(workers) as pool:
        results = list(tqdm(pool.imap_unordered(extract_clip, jobs), total=len(jobs), desc="clips", unit="clip"))
    outcomes = Counter(r[1] for r in results)
    return {"clips": len(jobs), "done": outcomes.pop("done", 0),
            "finished_before": outcomes.pop("finished before", 0),
            "skipped": {video: reason for video, reason, _ in sorted(results)
                        if reason not in ("done", "finished before")},
            "frames_filled": sum(r[2] for r in results),
            "clips_with_filled_frames": sum(1 for r in results if r[2] > 0)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="extract_frames", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-s", "--src", type=Path, required=True, help="folder of subject folders with video clips")
    p.add_argument("-d", "--dst", type=Path, required=True, help="output folder (one folder per clip)")
    p.add_argument("-n", "--frames", type=int, default=12, help="frames per clip, evenly spaced (default 12)")
    p.add_argument("--raw", action="store_true", help="keep whole frames, no face detection or alignment")
    p.add_argument("-j", "--workers", type=int, default=2, help="processes (default 2)")
    args = p.parse_args(argv)
    if not args.src.is_dir():
        print(f"error: {args.src} is not a folder", file=sys.stderr)
        return 2
    if args.frames < 1:
        print("error: -n must be at least 1", file=sys.stderr)
        return 2
    summary = extract(args.src, args.dst, args.frames, args.raw, args.workers)
    print(f"{summary['clips']} clips: {summary['done']} done, {summary['finished_before']} finished before, "
          f"{len(summary['skipped'])} skipped; {summary['frames_filled']} frames without a face filled "
          f"from their nearest neighbour in {summary['clips_with_filled_frames']} clips")
    for video, reason in summary["skipped"].items():
        print(f"skipped {video}: {reason}")
    return 0
