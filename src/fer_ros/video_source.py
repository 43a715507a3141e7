"""Opening a camera or a video file with OpenCV, without its warnings on stderr.

OpenCV logs a warning per backend it tries when a camera index has no device (V4L2, then
FFMPEG); the nodes say in one line of their own what failed and what they do about it.
"""

import cv2


def open_capture(source: int | str) -> cv2.VideoCapture | None:
    """An opened capture of a camera index or a video file, or None when it cannot be opened."""
    level = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    try:
        capture = cv2.VideoCapture(source)
    finally:
        cv2.utils.logging.setLogLevel(level)
    if capture.isOpened():
        return capture
    capture.release()
    return None
