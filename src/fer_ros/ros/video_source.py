"""Opening a camera or a video file with OpenCV, without its warnings on stderr.

OpenCV logs a warning per backend it tries when a camera index has no device (V4L2, then
FFMPEG); the nodes say in one line of their own what failed and what they do about it.
"""

import cv2

# OpenCV 4.12 and later: cv2.utils.logging; up to 4.11 (the newest wheel for numpy 1.x, what a
# ROS install from apt needs): cv2.getLogLevel / cv2.setLogLevel. Silent is 0 in both.
_LOGGING = getattr(cv2.utils, "logging", cv2)
LOG_LEVEL_SILENT = 0


def open_capture(source: int | str) -> cv2.VideoCapture | None:
    """An opened capture of a camera index or a video file, or None when it cannot be opened."""
    level = _LOGGING.getLogLevel()
    _LOGGING.setLogLevel(LOG_LEVEL_SILENT)
    try:
        capture = cv2.VideoCapture(source)
    finally:
        _LOGGING.setLogLevel(level)
    if capture.isOpened():
        return capture
    capture.release()
    return None
