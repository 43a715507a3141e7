"""Label-preserving image changes a face undergoes between camera frames.

Done in numpy/OpenCV rather than Keras layers: identical on every Keras backend and cheap
on a CPU (Keras' RandomRotation under JAX ran at ~0.4 s per batch on an H200).
"""

import cv2
import numpy as np


def augment(images: np.ndarray, rng: np.random.Generator, max_rotation_deg: float = 10.0,
            max_shift: float = 0.1, max_zoom: float = 0.1, brightness: float = 0.0,
            erase: float = 0.0, framing: float = 0.0, degrade: float = 0.0) -> np.ndarray:
    """Random flip, rotation, shift and zoom of uint8 N x H x W grey images; with `brightness`
    b > 0 also contrast x[1-b, 1+b] and brightness +-128 b; with `erase` p > 0, a random
    rectangle (2-20 % of the image) of noise in a fraction p of them (random erasing, for
    occlusion by hands and glasses); with `framing` p > 0, a fraction p of them moved toward the
    node's framing (`run_time_framing`); with `degrade` p > 0, a fraction p of them seen as a
    robot's camera sees a face (`camera_degrade`). At 0 (the defaults) no random numbers are
    drawn for them, so earlier runs reproduce."""
    n, h, w = images.shape
    out = np.empty_like(images)
    angles = rng.uniform(-max_rotation_deg, max_rotation_deg, n)
    scales = rng.uniform(1 - max_zoom, 1 + max_zoom, n)
    shifts = rng.uniform(-max_shift, max_shift, (n, 2)) * (w, h)
    flips = rng.random(n) < 0.5
    centre = (w / 2 - 0.5, h / 2 - 0.5)
    reframe = run_time_framing(n, framing, rng, (h, w)) if framing > 0 else np.tile(np.eye(3), (n, 1, 1))
    for i in range(n):
        m = cv2.getRotationMatrix2D(centre, angles[i], scales[i])
        m[:, 2] += shifts[i]
        m = m @ reframe[i]
        src = images[i, :, ::-1] if flips[i] else images[i]
        out[i] = cv2.warpAffine(np.ascontiguousarray(src), m, (w, h), borderMode=cv2.BORDER_REPLICATE)
    if framing > 0:
        for i in np.flatnonzero(rng.random(n) < framing / 2):  # a large face shrunk to 48x48 is soft
            out[i] = cv2.GaussianBlur(out[i], (0, 0), sigmaX=rng.uniform(0.4, 0.9))
    if brightness > 0:
        gain = rng.uniform(1 - brightness, 1 + brightness, (n, 1, 1))
        offset = rng.uniform(-128 * brightness, 128 * brightness, (n, 1, 1))
        out = np.clip(out * gain + offset, 0, 255).astype(np.uint8)
    if erase > 0:
        for i in np.flatnonzero(rng.random(n) < erase):
            area, aspect = rng.uniform(0.02, 0.2) * h * w, np.exp(rng.uniform(np.log(0.3), np.log(3.3)))
            eh, ew = min(h, int(round(np.sqrt(area * aspect)))), min(w, int(round(np.sqrt(area / aspect))))
            y, x = rng.integers(0, h - eh + 1), rng.integers(0, w - ew + 1)
            out[i, y:y + eh, x:x + ew] = rng.integers(0, 256, (eh, ew))
    if degrade > 0:
        for i in np.flatnonzero(rng.random(n) < degrade):
            out[i] = camera_degrade(out[i], rng)
    return out


def camera_degrade(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One uint8 grey face as a far, soft or badly lit camera gives it: each of lower
    resolution (down to 18-40 px and back), blur (sigma 0.5-1.5 px), a gamma of 0.6-1.7 (under
    and over exposure) and sensor noise (sigma 2-8 grey levels) with probability 1/2."""
    h, w = image.shape
    out = image.astype(np.float32)
    if rng.random() < 0.5:
        side = int(rng.integers(18, 41))
        small = cv2.resize(out, (side, side), interpolation=cv2.INTER_AREA)
        out = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    if rng.random() < 0.5:
        out = cv2.GaussianBlur(out, (0, 0), sigmaX=rng.uniform(0.5, 1.5))
    if rng.random() < 0.5:
        out = 255.0 * (np.clip(out, 0, 255) / 255.0) ** np.exp(rng.uniform(np.log(0.6), np.log(1.7)))
    if rng.random() < 0.5:
        out = out + rng.normal(0, rng.uniform(2, 8), out.shape)
    return np.clip(out, 0, 255).astype(np.uint8)


def run_time_framing(n: int, fraction: float, rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """N 3x3 affine maps (identity for the other 1 - fraction) that move a FER2013 tile toward
    the crops of the node's first framing (`fer_ros.vision.align` up to v4: 2.1 eye distances
    wide and 3.2 high squeezed into a square), so faces look 1-1.5 times wider, sit a little
    higher or lower, closer or farther, and their eye line is tilted by the landmark model's
    error. Kept as it was, so the model cards' commands reproduce their models."""
    h, w = shape
    maps = np.tile(np.eye(3), (n, 1, 1))
    cx, cy = w / 2 - 0.5, h / 2 - 0.5
    for i in np.flatnonzero(rng.random(n) < fraction):
        stretch, zoom = rng.uniform(1.0, 1.5), rng.uniform(0.9, 1.35)
        tilt, drop = np.radians(rng.uniform(-6, 6)), rng.uniform(-0.08, 0.08) * h
        cos, sin = np.cos(tilt), np.sin(tilt)
        scale = np.diag([zoom * stretch, zoom, 1.0])
        rotate = np.array([[cos, -sin, 0], [sin, cos, 0], [0, 0, 1]])
        to_origin = np.array([[1, 0, -cx], [0, 1, -cy], [0, 0, 1]])
        back = np.array([[1, 0, cx], [0, 1, cy + drop], [0, 0, 1]])
        maps[i] = back @ rotate @ scale @ to_origin
    return maps
