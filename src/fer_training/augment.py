"""Label-preserving image changes a face undergoes between camera frames.

Done in numpy/OpenCV rather than Keras layers: identical on every Keras backend and cheap
on a CPU (Keras' RandomRotation under JAX ran at ~0.4 s per batch on an H200).
"""

import cv2
import numpy as np


def augment(images: np.ndarray, rng: np.random.Generator, max_rotation_deg: float = 10.0,
            max_shift: float = 0.1, max_zoom: float = 0.1) -> np.ndarray:
    """Random flip, rotation, shift and zoom of uint8 N x H x W grey images."""
    n, h, w = images.shape
    out = np.empty_like(images)
    angles = rng.uniform(-max_rotation_deg, max_rotation_deg, n)
    scales = rng.uniform(1 - max_zoom, 1 + max_zoom, n)
    shifts = rng.uniform(-max_shift, max_shift, (n, 2)) * (w, h)
    flips = rng.random(n) < 0.5
    centre = (w / 2 - 0.5, h / 2 - 0.5)
    for i in range(n):
        m = cv2.getRotationMatrix2D(centre, angles[i], scales[i])
        m[:, 2] += shifts[i]
        src = images[i, :, ::-1] if flips[i] else images[i]
        out[i] = cv2.warpAffine(np.ascontiguousarray(src), m, (w, h), borderMode=cv2.BORDER_REPLICATE)
    return out
