"""The bundled sample clip, and short face videos for tests, made from a public-domain photo.

`data/astronaut.jpg` is NASA's portrait of astronaut Eileen Collins (public domain, as a work
of the U.S. Government), as shipped by scikit-image as `skimage.data.astronaut()`.
Run `python -m fer_ros.sample_clip OUT.mp4` to rebuild `data/sample_clip.mp4`.
"""

import argparse
from pathlib import Path

import cv2
import numpy as np

DATA_DIR = Path(__file__).resolve().parent / "data"
FACE_PHOTO = DATA_DIR / "astronaut.jpg"
SAMPLE_CLIP = DATA_DIR / "sample_clip.mp4"
FACE_PHOTO_SIZE = 512
# Centre of the face in the photo (pixels), between the eyes.
FACE_CENTRE = (223.0, 127.0)


def face_photo() -> np.ndarray:
    """The bundled BGR face photograph (512x512; one face, about 90 px wide)."""
    image = cv2.imread(str(FACE_PHOTO), cv2.IMREAD_COLOR)
    if image is None:
        raise FileNotFoundError(f"cannot read {FACE_PHOTO}")
    return image


def placement(t: float, size: tuple[int, int] = (640, 480), angle_deg: float = 6.0) -> np.ndarray:
    """2x3 affine map from photo to frame pixels at phase t in [0, 1]: a sideways drift
    and a tilt of up to `angle_deg`."""
    width, height = size
    side = FACE_PHOTO_SIZE
    scale = 0.8 * min(width, height) / side
    cx = width / 2 + 0.15 * width * np.sin(2 * np.pi * t)
    cy = height / 2 + 0.05 * height * np.cos(2 * np.pi * t)
    m = cv2.getRotationMatrix2D((side / 2, side / 2), angle_deg * np.sin(4 * np.pi * t), scale)
    m[0, 2] += cx - side / 2
    m[1, 2] += cy - side / 2
    return m


def face_frame(t: float, size: tuple[int, int] = (640, 480)) -> np.ndarray:
    """The photo on a grey canvas, placed by `placement(t, size)`."""
    return cv2.warpAffine(face_photo(), placement(t, size), size, borderValue=(90, 90, 90))


def write_clip(path: Path | str, frames: int = 60, fps: float = 15.0,
               size: tuple[int, int] = (640, 480), period: int | None = None) -> Path:
    """An MPEG-4 video of `frames` frames of `face_frame`, one motion cycle per `period`
    frames (default: the whole clip)."""
    path = Path(path)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    if not writer.isOpened():
        raise OSError(f"cannot write video {path}")
    for i in range(frames):
        writer.write(face_frame(i / (period or frames), size))
    writer.release()
    return path


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description="Write the sample clip.")
    p.add_argument("out", type=Path, nargs="?", default=SAMPLE_CLIP)
    p.add_argument("--frames", type=int, default=60)
    args = p.parse_args(argv)
    print(write_clip(args.out, args.frames))


if __name__ == "__main__":
    main()
