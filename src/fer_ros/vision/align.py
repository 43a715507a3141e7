"""Face alignment as in the seed: level the eye line, crop from the eye distance, 48x48 grey.

Crop placement: the crop is `x_factor` eye distances wide, centred on the midpoint between
the eyes, and `y_factor` eye distances high, with the eye line at `EYE_LINE` (35 %) of its
height from the top, so with the defaults (2.3, 2.6) it holds ~0.9 eye distances of forehead
and ~1.7 of nose, mouth and chin, close to the framing of FER2013's tiles (square, a median 2.8
eye distances across). The defaults were chosen on FER2013 PublicTest re-cropped this way
(`fer-preprocess-fer2013 --x-factor --y-factor`): image model v4's accuracy at the node's
default decision, best of x 2.1-2.5 by y 2.45-3.2 (docs/evaluation.md); the seed's (2.1, 3.2)
squeezed a taller crop into the square and cost about a point.
Smoothing: before shrinking the crop to 48x48 it is blurred with a Gaussian of sigma =
scale / 2 (scale = crop height / 48), the standard low-pass before decimation, so that
large faces give no aliasing (jagged edges, moire on hair) that FER2013's smooth tiles lack;
then area-averaged (INTER_AREA). Small faces (scale <= 1) are only interpolated.
"""

from dataclasses import dataclass
from functools import lru_cache
from importlib.util import find_spec
from pathlib import Path

import cv2
import dlib
import numpy as np

from fer_ros.vision.detect import Box, Detection, FaceDetector, Point
from fer_ros.vision.image_ops import to_grey
from fer_ros.vision.track import iou

FACE_SIZE = 48
EYE_LINE = 0.35
X_FACTOR = 2.3
Y_FACTOR = 2.6


def five_point_model() -> Path:
    """dlib's 5-point landmark model in the face_recognition_models package, found without
    importing it: its __init__ imports pkg_resources, which is slow and, under the scripts colcon
    writes, re-checks every installed requirement at start (and fails on names such as
    backports.strenum that it does not normalise)."""
    spec = find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("face_recognition_models is not installed (pip install face-recognition-models)")
    return Path(spec.submodule_search_locations[0]) / "models" / "shape_predictor_5_face_landmarks.dat"


@dataclass(frozen=True)
class AlignedFace:
    """One detected face: its box and eye centres in source pixels, and the 48x48 crop."""

    box: Box
    left_eye: tuple[float, float]   # image-left eye (the person's right eye)
    right_eye: tuple[float, float]  # image-right eye
    crop: np.ndarray                # uint8, FACE_SIZE x FACE_SIZE


class EyeLocator:
    """Eye centres from dlib's 5-point landmark model (free licence, ~0.2 ms per face)."""

    def __init__(self) -> None:
        self._predictor = dlib.shape_predictor(str(five_point_model()))

    def locate(self, grey: np.ndarray, box: Box) -> tuple[tuple[float, float], tuple[float, float]]:
        """(image-left eye, image-right eye) centres; points 0-1 and 2-3 are eye corners."""
        rect = dlib.rectangle(box.x, box.y, box.x + box.w, box.y + box.h)
        shape = self._predictor(grey, rect)
        pts = np.array([(shape.part(i).x, shape.part(i).y) for i in range(4)], dtype=np.float64)
        a, b = pts[0:2].mean(axis=0), pts[2:4].mean(axis=0)
        left, right = (a, b) if a[0] <= b[0] else (b, a)
        return (float(left[0]), float(left[1])), (float(right[0]), float(right[1]))


def align_face(grey: np.ndarray, left_eye: tuple[float, float], right_eye: tuple[float, float],
               x_factor: float = X_FACTOR, y_factor: float = Y_FACTOR, size: int = FACE_SIZE) -> np.ndarray:
    """Rotate the eye line level, crop by the eye distance, smooth and resize to size x size."""
    if x_factor <= 0 or y_factor <= 0:
        raise ValueError(f"x_factor and y_factor must be > 0, got {x_factor}, {y_factor}")
    (lx, ly), (rx, ry) = left_eye, right_eye
    distance = max(float(np.hypot(rx - lx, ry - ly)), 1.0)
    angle = float(np.degrees(np.arctan2(ry - ly, rx - lx)))
    centre = ((lx + rx) / 2.0, (ly + ry) / 2.0)
    crop_w = max(int(round(x_factor * distance)), 1)
    crop_h = max(int(round(y_factor * distance)), 1)
    # Rotate about the eye midpoint, then move the crop's top-left corner to the origin.
    m = cv2.getRotationMatrix2D(centre, angle, 1.0)
    m[0, 2] += crop_w / 2.0 - centre[0]
    m[1, 2] += EYE_LINE * crop_h - centre[1]
    crop = cv2.warpAffine(grey, m, (crop_w, crop_h), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)
    scale = crop_h / size
    if scale > 1.0:
        crop = cv2.GaussianBlur(crop, (0, 0), sigmaX=scale / 2.0)
        return cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA)
    return cv2.resize(crop, (size, size), interpolation=cv2.INTER_LINEAR)


EYE_SOURCES = ("detector", "dlib5")


class FaceAligner:
    """Detect, locate the eyes and align every face of an image.

    `eyes`: "dlib5" (default) runs dlib's 5-point model in the detector's box (about 0.2 ms a
    face); "detector" takes the eye centres from the detector's landmarks where it gives them
    (YuNet) and needs no second model. Measured by `fer-bench` (eye error in eye distances,
    JAFFE faces at 80 px): YuNet's points are off by 0.06 upright and drift with a rolled head
    (0.2 at 15 deg, 0.7 at 45 deg), which tilts the crop; dlib's stay under 0.035. A detector
    without landmarks (HOG, Haar) always uses dlib's model.
    """

    def __init__(self, detector: FaceDetector | None = None, x_factor: float = X_FACTOR,
                 y_factor: float = Y_FACTOR, max_faces: int = 16, eyes: str = "dlib5"):
        if eyes not in EYE_SOURCES:
            raise ValueError(f"unknown eye source {eyes!r}; expected one of {EYE_SOURCES}")
        self.detector = detector or FaceDetector()
        self.eyes = EyeLocator()
        self.eye_source = eyes
        self.x_factor = x_factor
        self.y_factor = y_factor
        self.max_faces = max_faces

    def faces(self, image: np.ndarray) -> list[AlignedFace]:
        """Every face the detector finds (largest first, at most max_faces), aligned."""
        grey = to_grey(image)
        return [self._aligned(grey, d) for d in self.detector.detect(image)[: self.max_faces]]

    def follow(self, image: np.ndarray, previous: list[AlignedFace]) -> list[AlignedFace]:
        """The faces of the last frame found again by detecting only in a region around each
        (the box grown by half its size on every side): about 1 ms a face instead of a
        full-frame detection, and a face that has gone is not reported. Same alignment as `faces`."""
        grey = to_grey(image)
        height, width = grey.shape[:2]
        found: list[Detection] = []
        for face in previous:
            b = face.box
            x0, y0 = max(0, b.x - b.w // 2), max(0, b.y - b.h // 2)
            x1, y1 = min(width, b.x + b.w + b.w // 2), min(height, b.y + b.h + b.h // 2)
            candidates = [_moved(d, x0, y0) for d in self.detector.detect(image[y0:y1, x0:x1], region=True)]
            candidates = [c for c in candidates if all(iou(c.box, f.box) < 0.5 for f in found)]
            if candidates:
                found.append(max(candidates, key=lambda c: iou(c.box, b)))
        return [self._aligned(grey, d) for d in found]

    def eye_centres(self, grey: np.ndarray, detection: Detection) -> tuple[Point, Point]:
        """(image-left, image-right) eye centres of a detected face, from `eye_source`."""
        if detection.eyes is not None and self.eye_source == "detector":
            return detection.eyes
        return self.eyes.locate(grey, detection.box)

    def _aligned(self, grey: np.ndarray, detection: Detection) -> AlignedFace:
        left, right = self.eye_centres(grey, detection)
        return AlignedFace(detection.box, left, right,
                           align_face(grey, left, right, self.x_factor, self.y_factor))


def _moved(d: Detection, dx: int, dy: int) -> Detection:
    """A detection in a region, in the coordinates of the whole image."""
    eyes = tuple((x + dx, y + dy) for x, y in d.eyes) if d.eyes else None
    return Detection(Box(d.box.x + dx, d.box.y + dy, d.box.w, d.box.h), d.score, eyes)


@lru_cache(maxsize=1)
def _default_aligner() -> FaceAligner:
    return FaceAligner()


def get_faces(image: np.ndarray, x_factor: float = X_FACTOR,
              y_factor: float = Y_FACTOR) -> tuple[list[np.ndarray], list[Box]]:
    """The seed's interface: (48x48 aligned grey faces, their boxes); empty lists if none."""
    aligner = _default_aligner()
    grey = to_grey(image)
    found = [(d.box, aligner.eye_centres(grey, d)) for d in aligner.detector.detect(image)]
    return [align_face(grey, *eyes, x_factor, y_factor) for _, eyes in found], [box for box, _ in found]
