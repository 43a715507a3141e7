"""Face detection: dlib's HOG frontal detector (default) or an OpenCV Haar cascade."""

from typing import NamedTuple

import cv2
import dlib
import numpy as np

DETECTORS = ("dlib", "haar")


class Box(NamedTuple):
    """Axis-aligned face box in image pixels."""

    x: int
    y: int
    w: int
    h: int


class FaceDetector:
    """Finds frontal faces in a grey image.

    `upsample` (dlib only) doubles the image that many times: needed only for faces under
    ~80 px, at ~4x the cost per step. `min_score` (dlib only) drops marginal detections: on the
    sample clip a badge scores up to 0.32, the face 0.65 or more, a face tilted by 12 degrees
    0.48; every JAFFE face scores > 1.
    `min_size` drops smaller boxes. `scale` < 1 detects on a shrunk copy of the image (cost
    falls with the area: ~3.3 ms instead of 13 ms at 0.5 for 640x480) and finds only faces
    larger than about 65 px / scale; boxes are given in full-image pixels.
    """

    def __init__(self, method: str = "dlib", upsample: int = 0, min_size: int = 20,
                 min_score: float = 0.35, scale: float = 1.0):
        if method not in DETECTORS:
            raise ValueError(f"unknown face detector {method!r}; expected one of {DETECTORS}")
        if upsample < 0:
            raise ValueError(f"upsample must be >= 0, got {upsample}")
        self.method = method
        self.upsample = upsample
        self.min_size = min_size
        self.min_score = min_score
        self.scale = scale
        if method == "dlib":
            self._dlib = dlib.get_frontal_face_detector()
        else:
            path = cv2.data.haarcascades + "haarcascade_frontalface_default.xml"
            self._haar = cv2.CascadeClassifier(path)
            if self._haar.empty():
                raise RuntimeError(f"cannot load the Haar cascade {path}")

    def detect(self, grey: np.ndarray) -> list[Box]:
        """Boxes of the faces in `grey`, clipped to the image, largest first."""
        height, width = grey.shape[:2]
        if min(height, width) < self.min_size:
            return []
        small = grey if self.scale == 1.0 else cv2.resize(
            grey, (max(1, round(width * self.scale)), max(1, round(height * self.scale))),
            interpolation=cv2.INTER_AREA)
        small = np.ascontiguousarray(small)  # dlib misreads strided views (e.g. a region of a frame)
        if self.method == "dlib":
            rects, _, _ = self._dlib.run(small, self.upsample, self.min_score)
            raw = [(r.left(), r.top(), r.width(), r.height()) for r in rects]
        else:
            min_side = max(1, round(self.min_size * self.scale))
            raw = self._haar.detectMultiScale(small, scaleFactor=1.1, minNeighbors=5, minSize=(min_side, min_side))
        raw = [tuple(round(v / self.scale) for v in r) for r in raw]
        boxes = []
        for x, y, w, h in raw:
            x0, y0 = max(0, int(x)), max(0, int(y))
            x1, y1 = min(width, int(x) + int(w)), min(height, int(y) + int(h))
            if x1 - x0 >= self.min_size and y1 - y0 >= self.min_size:
                boxes.append(Box(x0, y0, x1 - x0, y1 - y0))
        return sorted(boxes, key=lambda b: b.w * b.h, reverse=True)
