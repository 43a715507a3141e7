"""Drawing of results on a frame, for the annotated image topic and recordings."""

import cv2
import numpy as np

from fer_ros.vision.pipeline import FaceResult


def draw_results(bgr: np.ndarray, results: list[FaceResult], clips: dict[int, str] | None = None) -> np.ndarray:
    """A copy of `bgr` with each face's box, eyes, track id, label and confidence, and below
    the box its last clip-level result (`clips`: track id -> text)."""
    out = bgr.copy()
    clips = clips or {}
    for r in results:
        b = r.face.box
        cv2.rectangle(out, (b.x, b.y), (b.x + b.w, b.y + b.h), (0, 255, 0), 2)
        for eye in (r.face.left_eye, r.face.right_eye):
            cv2.circle(out, (int(round(eye[0])), int(round(eye[1]))), 2, (0, 200, 255), -1)
        text = f"#{r.track_id} {r.label} {r.confidence:.2f}"
        cv2.putText(out, text, (b.x, max(12, b.y - 6)), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                    (0, 255, 0), 1, cv2.LINE_AA)
        if r.track_id in clips:
            cv2.putText(out, clips[r.track_id], (b.x, min(out.shape[0] - 4, b.y + b.h + 16)),
                        cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 200, 0), 1, cv2.LINE_AA)
    return out
