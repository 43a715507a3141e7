"""Face detection behind one interface: YuNet (OpenCV's CNN, default), dlib's HOG or an OpenCV
Haar cascade.

YuNet finds faces down to about 24 px and gives five landmarks with each box (both eyes, nose,
mouth corners), so the aligner needs no second model for the eyes. HOG finds faces of about
60 px and more (upsampling lowers that at 4x the cost); Haar is the fallback with no model file.

Input size: a frame whose longer side exceeds `max_side` (default 640) is shrunk to it before
detection, so a 1920x1080 frame costs what a 640x360 one does (faces then need to be about
24 px at that size, i.e. 72 px in the 1080p frame); `scale` < 1 shrinks further. A region
around a tracked face (`region=True`) goes to YuNet at a fixed `REGION_SIDE`: about 1 ms,
whatever the face's size.
"""

from pathlib import Path
from typing import NamedTuple

import cv2
import dlib
import numpy as np

from fer_ros.vision.image_ops import to_bgr8, to_grey
from fer_ros.vision.model_files import ModelFileError

DETECTORS = ("yunet", "hog", "haar")
YUNET_MODEL = Path(__file__).resolve().parents[1] / "models" / "face_detector" / "face_detection_yunet_2023mar.onnx"
YUNET_MIN_OPENCV = (4, 8)  # the 2023mar model's layers; 4.6 (Debian 12, Ubuntu 24.04 apt) cannot read it
REGION_SIDE = 128  # YuNet's input for a region around a tracked face (about twice the face)
YUNET_MIN_SIDE = 64  # thinner inputs (after shrinking) are padded to it
DEFAULT_MIN_SCORE = {"yunet": 0.75, "hog": 0.35, "haar": 0.0}

Point = tuple[float, float]


class Box(NamedTuple):
    """Axis-aligned face box in image pixels."""

    x: int
    y: int
    w: int
    h: int


class Detection(NamedTuple):
    """A face: its box, the detector's score, and its eye centres (image-left, image-right)
    where the detector gives them (YuNet), else None."""

    box: Box
    score: float
    eyes: tuple[Point, Point] | None = None


def check_opencv_for_yunet(version: str) -> None:
    """Refuse, with the fix, an OpenCV too old for the shipped YuNet (a ROS install's apt OpenCV
    4.6 in front of pip's): its own error names a layer id and not the cause."""
    if tuple(int(part) for part in version.split(".")[:2]) < YUNET_MIN_OPENCV:
        raise ModelFileError(f"OpenCV {version} (from {Path(cv2.__file__).parent}) cannot load {YUNET_MODEL.name}; "
                           "it needs OpenCV >= 4.8: pip install -c constraints-ros-apt.txt 'opencv-python-headless<5' "
                           "in the venv (README), or detector:=hog")


class FaceDetector:
    """Finds faces in a grey, BGR or BGRA image, largest first.

    `min_score`: YuNet's score (0-1; 0.75 finds 99 % of 32 px faces with 0.025 false detections
    per cluttered frame, OpenCV's default 0.9 half of them) or HOG's margin (a badge on the
    sample clip scored up to 0.32, faces 0.65 or more). `min_size` drops smaller boxes.
    `upsample` (HOG only) doubles the image that many times before detection.
    """

    def __init__(self, method: str = "yunet", upsample: int = 0, min_size: int = 20,
                 min_score: float | None = None, scale: float = 1.0, max_side: int = 640):
        if method not in DETECTORS:
            raise ValueError(f"unknown face detector {method!r}; expected one of {DETECTORS}")
        if upsample < 0:
            raise ValueError(f"upsample must be >= 0, got {upsample}")
        if not 0 < scale <= 1 or max_side < 32:
            raise ValueError(f"scale must be in (0, 1] and max_side >= 32, got {scale}, {max_side}")
        self.method = method
        self.upsample = upsample
        self.min_size = min_size
        self.min_score = DEFAULT_MIN_SCORE[method] if min_score is None else min_score
        self.scale = scale
        self.max_side = max_side
        if method == "yunet":
            if not YUNET_MODEL.is_file():
                raise FileNotFoundError(f"YuNet model file not found: {YUNET_MODEL}")
            check_opencv_for_yunet(cv2.__version__)
            # Every score kept here; min_score is applied below, so it can change at run time.
            self._yunet = cv2.FaceDetectorYN.create(str(YUNET_MODEL), "", (320, 320), 0.3, 0.3, 64)
        elif method == "hog":
            self._hog = dlib.get_frontal_face_detector()
        else:
            path = cv2.data.haarcascades + "haarcascade_frontalface_default.xml"
            self._haar = cv2.CascadeClassifier(path)
            if self._haar.empty():
                raise RuntimeError(f"cannot load the Haar cascade {path}")

    def detect(self, image: np.ndarray, region: bool = False) -> list[Detection]:
        """The faces of `image`, clipped to it, largest first. `region`: the image is a small
        region around a face already tracked (YuNet sees it at REGION_SIDE)."""
        height, width = image.shape[:2]
        if min(height, width) < self.min_size:
            return []
        if region and self.method == "yunet":
            factor = REGION_SIDE / max(height, width)
        else:
            factor = min(self.scale, self.max_side / max(height, width))
        size = (max(1, round(width * factor)), max(1, round(height * factor)))
        raw = self._yunet_faces(image, size) if self.method == "yunet" else self._grey_faces(image, size)
        found = []
        for x, y, w, h, score, eyes in raw:
            x0, y0 = max(0, round(x / factor)), max(0, round(y / factor))
            x1, y1 = min(width, round((x + w) / factor)), min(height, round((y + h) / factor))
            if x1 - x0 >= self.min_size and y1 - y0 >= self.min_size:
                # Python floats: a message field (hri landmarks) refuses numpy scalars by aborting.
                eyes = tuple((float(ex / factor), float(ey / factor)) for ex, ey in eyes) if eyes else None
                found.append(Detection(Box(x0, y0, x1 - x0, y1 - y0), float(score), eyes))
        return sorted(found, key=lambda d: d.box.w * d.box.h, reverse=True)

    def _yunet_faces(self, image: np.ndarray, size: tuple[int, int]) -> list:
        bgr = to_bgr8(to_grey(image) if image.dtype != np.uint8 else image)
        if bgr.shape[1::-1] != size:
            bgr = cv2.resize(bgr, size, interpolation=cv2.INTER_AREA if size[0] < bgr.shape[1] else cv2.INTER_LINEAR)
        # On an input thinner than 64 px YuNet answers noise with boxes scored 1.0, some of them
        # infinite (86 in 3,000 random frames up to 800 px wide; none once padded): pad it (black).
        pad_y, pad_x = max(0, YUNET_MIN_SIDE - bgr.shape[0]), max(0, YUNET_MIN_SIDE - bgr.shape[1])
        if pad_y or pad_x:
            bgr = cv2.copyMakeBorder(bgr, 0, pad_y, 0, pad_x, cv2.BORDER_CONSTANT, value=0)
        self._yunet.setInputSize(bgr.shape[1::-1])
        _, faces = self._yunet.detect(np.ascontiguousarray(bgr))
        # Each row: box x, y, w, h; right eye (the subject's, image-left), left eye, nose, mouth corners; score.
        return [(f[0], f[1], f[2], f[3], f[14], ((f[4], f[5]), (f[6], f[7])))
                for f in ([] if faces is None else faces) if f[14] >= self.min_score and np.isfinite(f).all()]

    def _grey_faces(self, image: np.ndarray, size: tuple[int, int]) -> list:
        grey = to_grey(image)
        if grey.shape[1::-1] != size:
            grey = cv2.resize(grey, size, interpolation=cv2.INTER_AREA)
        grey = np.ascontiguousarray(grey)  # dlib misreads strided views (e.g. a region of a frame)
        if self.method == "hog":
            rects, scores, _ = self._hog.run(grey, self.upsample, self.min_score)
            return [(r.left(), r.top(), r.width(), r.height(), s, None) for r, s in zip(rects, scores)]
        min_side = max(1, round(self.min_size * size[0] / image.shape[1]))
        boxes = self._haar.detectMultiScale(grey, scaleFactor=1.1, minNeighbors=5, minSize=(min_side, min_side))
        return [(x, y, w, h, 1.0, None) for x, y, w, h in boxes]
