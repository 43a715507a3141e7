"""Detection range: how small (far) and how tilted a face each detector still finds, and what the
emotion model makes of what is found.

JAFFE's 213 photographs are scaled so that the face (dlib's HOG box on the original photograph)
is N pixels wide, rotated in-plane where asked, and pasted with a feathered edge at a seeded
position on a seeded cluttered frame (blurred noise, shapes, lines and text). A face counts as
found when a detection's centre lies within half a face width of the true centre and its width
is within a factor of two. The same frames also run without the face, for false detections.
A 15 cm wide face seen by a 640x480 camera with a 60 deg horizontal field of view is about
83 / d pixels wide at d metres (`distance_m`).
"""

from dataclasses import dataclass

import cv2
import numpy as np

from fer_ros.vision.align import FaceAligner
from fer_ros.vision.classify import EmotionClassifier
from fer_ros.vision.detect import Box, FaceDetector
from fer_training.data.labelled_images import labelled_images


@dataclass(frozen=True)
class Condition:
    name: str
    frame: tuple[int, int]  # width, height
    face_px: int
    angle: float = 0.0


CONDITIONS = (
    *(Condition(f"{px} px", (640, 480), px) for px in (24, 32, 40, 48, 64, 120)),
    Condition("48 px in 1280x720", (1280, 720), 48),
    *(Condition(f"80 px rolled {a} deg", (640, 480), 80, a) for a in (0, 15, 30, 45)),
)


def distance_m(face_px: int, frame_width: int = 640) -> float:
    """Distance of a 15 cm face that appears `face_px` wide (60 deg horizontal field of view)."""
    return 0.15 * frame_width / (2 * np.tan(np.radians(30)) * face_px)


def clutter(rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    """A seeded BGR background with edges and texture everywhere, and no face."""
    width, height = size
    noise = rng.random((height // 8 + 1, width // 8 + 1, 3)) * 255
    frame = cv2.resize(noise.astype(np.uint8), (width, height), interpolation=cv2.INTER_CUBIC)
    for _ in range(40):
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        kind = rng.integers(0, 4)
        if kind == 0:
            cv2.rectangle(frame, (x, y), (x + int(rng.integers(10, 160)), y + int(rng.integers(10, 160))), colour, -1)
        elif kind == 1:
            axes = (int(rng.integers(5, 60)), int(rng.integers(5, 60)))
            cv2.ellipse(frame, (x, y), axes, float(rng.uniform(0, 180)), 0, 360, colour, -1)
        elif kind == 2:
            cv2.line(frame, (x, y), (int(rng.integers(0, width)), int(rng.integers(0, height))), colour,
                     int(rng.integers(1, 6)))
        else:
            cv2.putText(frame, "ROBOT 42", (x, y), cv2.FONT_HERSHEY_SIMPLEX, float(rng.uniform(0.4, 2.0)), colour, 2)
    return cv2.GaussianBlur(frame, (0, 0), 1.0)


def paste(frame: np.ndarray, photo: np.ndarray, box: Box, condition: Condition,
          rng: np.random.Generator) -> np.ndarray:
    """The photo scaled so that `box` is `face_px` wide, rotated about the face, pasted at a random
    place with a feathered edge; returns the 2x3 map from photo to frame pixels."""
    scale = condition.face_px / box.w
    centre = ((box.x + box.w / 2) * scale, (box.y + box.h / 2) * scale)
    to_scaled = np.array([[scale, 0, 0], [0, scale, 0]], np.float64)
    photo = cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    ph, pw = photo.shape[:2]
    alpha = np.zeros((ph, pw), np.float32)
    margin = max(2, min(ph, pw) // 10)
    alpha[margin:-margin, margin:-margin] = 1.0
    alpha = cv2.GaussianBlur(alpha, (0, 0), margin / 2)
    rotate = cv2.getRotationMatrix2D(centre, condition.angle, 1.0)
    if condition.angle:
        photo = cv2.warpAffine(photo, rotate, (pw, ph), borderMode=cv2.BORDER_REPLICATE)
        alpha = cv2.warpAffine(alpha, rotate, (pw, ph))
    width, height = condition.frame
    x, y = int(rng.integers(0, width - pw + 1)), int(rng.integers(0, height - ph + 1))
    region = frame[y:y + ph, x:x + pw].astype(np.float32)
    colour_photo = cv2.cvtColor(photo, cv2.COLOR_GRAY2BGR).astype(np.float32)
    frame[y:y + ph, x:x + pw] = (alpha[..., None] * colour_photo + (1 - alpha[..., None]) * region).astype(np.uint8)
    placed = np.vstack([rotate, [0, 0, 1]]) @ np.vstack([to_scaled, [0, 0, 1]])
    placed[:2, 2] += (x, y)
    return placed[:2]


def _mapped(m: np.ndarray, point: tuple[float, float]) -> np.ndarray:
    return m @ np.array([point[0], point[1], 1.0])


def _matches(box: Box, centre: tuple[float, float], face_px: int) -> bool:
    cx, cy = box.x + box.w / 2, box.y + box.h / 2
    return np.hypot(cx - centre[0], cy - centre[1]) <= face_px / 2 and 0.5 <= box.w / face_px <= 2.0


def jaffe_faces(data_dir) -> list[tuple[np.ndarray, Box, tuple, int]]:
    """(grey photograph, face box by dlib's HOG, eye centres by dlib's 5-point model, label) of every
    JAFFE image with a face found: the upright, full-resolution reference for the pasted copies."""
    aligner = FaceAligner(FaceDetector("hog", min_score=0.0), eyes="dlib5")
    faces = []
    for item in labelled_images("jaffe", data_dir):
        grey = item.image if item.image.ndim == 2 else cv2.cvtColor(item.image, cv2.COLOR_BGR2GRAY)
        found = aligner.faces(grey)
        if found:
            faces.append((grey, found[0].box, (found[0].left_eye, found[0].right_eye), item.label))
    return faces


def measure(aligner: FaceAligner, classifier: EmotionClassifier, faces: list, condition: Condition,
            seed: int = 0) -> dict:
    """Detection rate, false detections per empty frame, eye error of the faces found (median, in
    eye distances, against the reference eyes mapped into the frame) and their emotion accuracy."""
    found, correct, false_empty, eye_errors = 0, 0, 0, []
    for i, (photo, box, eyes, label) in enumerate(faces):
        rng = np.random.default_rng([seed, i, condition.face_px, int(condition.angle), condition.frame[0]])
        background = clutter(rng, condition.frame)
        false_empty += len(aligner.detector.detect(background))
        frame = background.copy()
        placed = paste(frame, photo, box, condition, rng)
        centre = _mapped(placed, (box.x + box.w / 2, box.y + box.h / 2))
        hits = [f for f in aligner.faces(frame) if _matches(f.box, centre, condition.face_px)]
        if hits:
            found += 1
            correct += int(np.argmax(classifier.scores([hits[0].crop])[0]) == label)
            left, right = _mapped(placed, eyes[0]), _mapped(placed, eyes[1])
            error = max(np.hypot(*(np.array(hits[0].left_eye) - left)),
                        np.hypot(*(np.array(hits[0].right_eye) - right)))
            eye_errors.append(error / np.hypot(*(right - left)))
    n = len(faces)
    return {"condition": condition.name, "n": n, "found": found / n, "false_per_frame": false_empty / n,
            "eye_error": float(np.median(eye_errors)) if eye_errors else float("nan"),
            "accuracy_of_found": correct / found if found else float("nan"),
            "distance_m": distance_m(condition.face_px, condition.frame[0])}


def range_table(detectors: dict[str, FaceAligner], classifier: EmotionClassifier, data_dir, limit: int | None
                ) -> list[dict]:
    """One row per detector and condition."""
    faces = jaffe_faces(data_dir)[:limit]
    return [{"detector": name, **measure(aligner, classifier, faces, condition)}
            for name, aligner in detectors.items() for condition in CONDITIONS]
