"""Synthetic clips: 12 aligned frames made from one FER2013 still.

No video emotion data set is available to this project, so clip models are trained and measured
on clips synthesized from stills. Each clip shows what a tracked, aligned face really does from
frame to frame: the aligner's crop drifts in position, scale and rotation (smooth random walks),
light changes, some frames are motion-blurred, sensor noise, a hand or object briefly covers part
of the face, and now and then detection fails and the frame is filled with its neighbour (as
`extract_frames` fills it). The label is the still's.

Onset (`onset` > 0): a face in a video starts neutral and moves to its expression over a few
tenths of a second, so that fraction of the clips of non-neutral stills begins with k frames
(k from 1 to 8 of 12) of a neutral still of the same split, then shows the expression, with the
expression's label; neutral stills give clips held neutral throughout. FER2013 tells no
identities, so the neutral face is another person's: the clip's motion, light and noise carry
over, the identity does not.

Every clip is made from its own seed (`seed`, split index, still index), so any subset of a split
is rebuilt identically by any process, in any order.
"""

import zlib

import cv2
import numpy as np

from fer_ros.vision.labels import LABELS
from fer_training.data.fer2013 import TILE, load_split
from fer_training.data.ferplus import split_labels

CLIP_LENGTH = 12
NEUTRAL = LABELS.index("neutral")
ONSET_SEED = 1_000_003


def clip_rng(seed: int, split: str, index: int) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(split.encode()), index])


def _walk(rng: np.random.Generator, start_sd: float, step_sd: float, length: int) -> np.ndarray:
    return rng.normal(0.0, start_sd) + np.cumsum(np.r_[0.0, rng.normal(0.0, step_sd, length - 1)])


def _motion_blur(frame: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    size = int(rng.integers(3, 6))
    kernel = np.zeros((size, size), np.float32)
    kernel[size // 2, :] = 1.0 / size
    rotation = cv2.getRotationMatrix2D(((size - 1) / 2, (size - 1) / 2), float(rng.uniform(0, 180)), 1.0)
    kernel = cv2.warpAffine(kernel, rotation, (size, size))
    return cv2.filter2D(frame, -1, kernel / max(kernel.sum(), 1e-6), borderType=cv2.BORDER_REFLECT)


def synthesize_clip(still: np.ndarray, rng: np.random.Generator, length: int = CLIP_LENGTH,
                    neutral: np.ndarray | None = None, onset: int = 0) -> np.ndarray:
    """`length` x 48 x 48 uint8 frames of one 48x48 grey still; with `neutral`, the first
    `onset` frames show that still instead."""
    dx, dy = _walk(rng, 1.0, 0.5, length), _walk(rng, 1.0, 0.5, length)
    scale = 1.0 + _walk(rng, 0.03, 0.01, length)
    angle = _walk(rng, 3.0, 1.0, length)
    gain = 1.0 + _walk(rng, 0.08, 0.03, length)
    offset = _walk(rng, 6.0, 2.0, length)
    noise_sd = rng.uniform(1.0, 4.0)
    centre = ((TILE - 1) / 2, (TILE - 1) / 2)
    frames = np.empty((length, TILE, TILE), np.uint8)
    for t in range(length):
        warp = cv2.getRotationMatrix2D(centre, float(angle[t]), float(scale[t]))
        warp[:, 2] += (dx[t], dy[t])
        source = neutral if neutral is not None and t < onset else still
        frame = cv2.warpAffine(source, warp, (TILE, TILE), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        if rng.random() < 0.15:
            frame = _motion_blur(frame, rng)
        frame = frame.astype(np.float32) * gain[t] + offset[t] + rng.normal(0.0, noise_sd, frame.shape)
        frames[t] = np.clip(frame, 0, 255).astype(np.uint8)
    if rng.random() < 0.3:  # brief occlusion: 1-3 frames, a patch of 12-24 px
        first, span = int(rng.integers(0, length)), int(rng.integers(1, 4))
        h, w = rng.integers(12, 25, 2)
        y, x = rng.integers(0, TILE - h), rng.integers(0, TILE - w)
        frames[first:first + span, y:y + h, x:x + w] = int(rng.integers(0, 256))
    if rng.random() < 0.2:  # a missed detection, filled with the previous (or next) frame
        t = int(rng.integers(0, length))
        frames[t] = frames[t - 1] if t > 0 else frames[1]
    return frames


def labels_learnt(image_model_dir) -> str:
    """"fer2013" or "ferplus": the labels an image model was trained on (its card), which clips
    for the clip heads on its feature maps are labelled with."""
    from fer_ros.vision.model_files import read_metadata

    return "fer2013" if read_metadata(image_model_dir).get("training", {}).get("labels", "fer2013") == "fer2013" \
        else "ferplus"


def synthesize_split(data_dir, split: str, seed: int, limit: int | None = None, onset: float = 0.0,
                     labels_from: str = "fer2013") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(clips N x 12 x 48 x 48 uint8, labels N, still indices N) of a FER2013 split, or of `limit`
    stills drawn at random (the splits are sorted by label: the first N would be one class);
    `onset`: the fraction of non-neutral clips that begin neutral. `labels_from`: FER2013's labels,
    or the FER+ majority ("ferplus"; stills without one among the 7 classes are left out), as the
    image model whose feature maps the clip heads read was trained."""
    stills, labels = load_split(data_dir, split)
    labels = split_labels(data_dir, split, labels_from, labels)
    chosen = np.flatnonzero(labels >= 0)
    if limit is not None and limit < len(chosen):
        chosen = np.sort(np.random.default_rng(seed).choice(chosen, limit, replace=False))
    neutrals = np.flatnonzero(labels == NEUTRAL)
    clips = []
    for i in chosen:
        rng = clip_rng(seed, split, int(i))
        onset_rng = clip_rng(seed + ONSET_SEED, split, int(i))  # its own draws: clips without onset stay as before
        if onset > 0 and labels[i] != NEUTRAL and onset_rng.random() < onset:
            neutral = stills[onset_rng.choice(neutrals)]
            clips.append(synthesize_clip(stills[i], rng, neutral=neutral, onset=int(onset_rng.integers(1, 9))))
        else:
            clips.append(synthesize_clip(stills[i], rng))
    return np.stack(clips), labels[chosen], chosen
