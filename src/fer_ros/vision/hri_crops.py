"""Where a face's eyes lie in the face images ROS4HRI's `hri_face_detect` publishes, so that its
crops get our framing (`align_face`) before they are classified.

REP-155 gives each face's `roi` (box, normalised) and `landmarks` (pupils 68 and 69, normalised)
in the source image. `hri_face_detect` (2.0.1) makes its 128x128 face images from the box in
whole pixels: `/cropped` is the box scaled to fit the square with its aspect kept, centred,
zero-padded; `/aligned` is the same after the box and half its size around it were turned about
their centre until the pupils are level (PIL's rotate). The maps below follow those two
functions (`publish_cropped_face`, `publish_aligned_face`), from the messages alone.
"""

import math

import numpy as np

from fer_ros.vision.align import AlignedFace, align_face
from fer_ros.vision.detect import Box
from fer_ros.vision.image_ops import to_grey

FACE_IMAGES = ("cropped", "aligned")
Point = tuple[float, float]


def box_in_pixels(roi: tuple[float, float, float, float], width: int, height: int) -> Box:
    """The whole-pixel box (x, y, w, h) of a normalised (xmin, ymin, xmax, ymax) roi."""
    x, y = round(roi[0] * width), round(roi[1] * height)
    return Box(x, y, round(roi[2] * width) - x, round(roi[3] * height) - y)


def eyes_in_cropped(box: Box, eyes: tuple[Point, Point], width: int, height: int) -> tuple[Point, Point]:
    """Source-pixel eye centres mapped into the width x height `/cropped` image of `box`."""
    scale = min(width / box.w, height / box.h)
    x_offset = int((width - round(box.w * scale)) / 2)
    y_offset = int((height - round(box.h * scale)) / 2)
    return tuple(((ex - box.x + 0.5) * scale - 0.5 + x_offset, (ey - box.y + 0.5) * scale - 0.5 + y_offset)
                 for ex, ey in eyes)


def eyes_in_aligned(box: Box, eyes: tuple[Point, Point], source_size: tuple[int, int], width: int,
                    height: int) -> tuple[Point, Point]:
    """Source-pixel eye centres mapped into the width x height `/aligned` image of `box` in a
    source of `source_size` (width, height): turned level about the centre of the region
    around the box, then as `/cropped`."""
    source_w, source_h = source_size
    x0, y0 = max(0, box.x - box.w // 2), max(0, box.y - box.h // 2)
    x1, y1 = min(box.x + box.w + box.w // 2, source_w), min(box.y + box.h + box.h // 2, source_h)
    cx, cy = (x1 - x0) / 2.0, (y1 - y0) / 2.0
    (lx, ly), (rx, ry) = eyes
    angle = math.atan2(ry - ly, rx - lx)  # the turn that levels the eye line
    cos, sin = math.cos(angle), math.sin(angle)
    turned = []
    for ex, ey in eyes:
        dx, dy = ex - x0 - cx, ey - y0 - cy
        turned.append((cx + dx * cos + dy * sin + x0, cy - dx * sin + dy * cos + y0))
    return eyes_in_cropped(box, (turned[0], turned[1]), width, height)


def pupils(points: list[tuple[float, float, float]], right_pupil: int, left_pupil: int, width: int,
           height: int) -> tuple[Point, Point] | None:
    """The (image-left, image-right) eye centres in source pixels from normalised landmarks
    (x, y, c); None where a pupil is unknown (c 0). The subject's right pupil is image-left."""
    if len(points) <= max(right_pupil, left_pupil):
        return None
    right, left = points[right_pupil], points[left_pupil]
    if right[2] <= 0 or left[2] <= 0:
        return None
    return (right[0] * width, right[1] * height), (left[0] * width, left[1] * height)


def frame_face_image(image: np.ndarray, eyes: tuple[Point, Point], x_factor: float, y_factor: float,
                     box: Box) -> AlignedFace:
    """A face image of `hri_face_detect` in our framing (the eyes in its pixels); `box` is the
    face's box in the source image, kept for the caller."""
    grey = to_grey(image)
    left, right = eyes
    crop = align_face(grey, left, right, x_factor, y_factor)
    return AlignedFace(box, left, right, crop)
