"""Pixel-format helpers shared by the vision core: every stage works on 8-bit grey."""

import cv2
import numpy as np


def to_grey(image: np.ndarray) -> np.ndarray:
    """Grey uint8 view of a grey, BGR or BGRA image (uint8, or uint16 scaled down)."""
    if not isinstance(image, np.ndarray):
        raise TypeError(f"expected a numpy array, got {type(image).__name__}")
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    elif image.dtype != np.uint8:
        raise ValueError(f"expected a uint8 or uint16 image, got dtype {image.dtype}")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 2:
        return np.ascontiguousarray(image)
    if image.ndim == 3 and image.shape[2] == 3:
        return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    if image.ndim == 3 and image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2GRAY)
    raise ValueError(f"expected a grey, BGR or BGRA image, got shape {image.shape}")


def to_bgr8(image: np.ndarray) -> np.ndarray:
    """8-bit BGR copy of a grey, BGR or BGRA image (for drawing on)."""
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    return image


def fit_into_square(image: np.ndarray, box: tuple[int, int, int, int], size: int) -> np.ndarray:
    """The box's pixels scaled to fit a size x size image, centred, zero-padded (REP-155's
    `cropped` face image). `box` is (x, y, w, h) in image pixels, clipped to the image."""
    x, y, w, h = box
    x0, y0 = max(0, x), max(0, y)
    x1, y1 = min(image.shape[1], x + w), min(image.shape[0], y + h)
    out = np.zeros((size, size, *image.shape[2:]), image.dtype)
    if x1 <= x0 or y1 <= y0:
        return out
    region = image[y0:y1, x0:x1]
    scale = size / max(region.shape[:2])
    rw, rh = max(1, round(region.shape[1] * scale)), max(1, round(region.shape[0] * scale))
    resized = cv2.resize(region, (rw, rh), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    top, left = (size - rh) // 2, (size - rw) // 2
    out[top:top + rh, left:left + rw] = resized.reshape(rh, rw, *image.shape[2:])
    return out
