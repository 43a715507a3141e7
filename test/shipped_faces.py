"""Real faces without any data set: the bundled public-domain photo, placed as the sample clip
moves it (drift, tilt) and with its light changed, each found and aligned by the vision core.
For tests that need a few real faces and no labels, so they run on a clone without ../shared."""

from functools import lru_cache

import cv2
import numpy as np

from fer_ros.sample_clip import face_frame, face_photo
from fer_ros.vision.align import get_faces


@lru_cache(maxsize=1)
def _aligned_faces() -> np.ndarray:
    faces = []
    for i in range(36):
        gain, offset = ((1.0, 0), (0.7, 20), (1.2, -25))[i % 3]
        lit = cv2.convertScaleAbs(face_frame(i / 36), alpha=gain, beta=offset)
        found, _ = get_faces(lit if i % 2 else lit[:, ::-1].copy())  # every other one mirrored
        faces.extend(found[:1])
    return np.stack(faces)


def aligned_faces(count: int = 36) -> np.ndarray:
    """`count` (at most 36) aligned 48x48 grey crops of the bundled face, each of its own placement and light."""
    faces = _aligned_faces()
    assert len(faces) >= count, f"the bundled face was found {len(faces)} times, {count} wanted"
    return faces[:count].copy()


def face_photos(count: int) -> list[np.ndarray]:
    """`count` 256x256 grey portraits (JAFFE's format) of the bundled face, each with its own
    light, framing and side, for tools that take whole photos and find the face themselves."""
    photo = cv2.cvtColor(face_photo(), cv2.COLOR_BGR2GRAY)
    photos = []
    for i in range(count):
        margin = 10 + 4 * (i % 5)
        crop = photo[20 - min(margin, 20) // 2:260 + margin, 110 - margin:340 + margin]
        crop = cv2.convertScaleAbs(cv2.resize(crop, (256, 256)), alpha=0.75 + 0.05 * (i % 7), beta=8 * (i % 3))
        photos.append(crop if i % 2 == 0 else crop[:, ::-1].copy())
    return photos


def real_faces(count: int) -> np.ndarray:
    """`count` aligned faces of every class where FER2013 is here (PublicTest, spread over the
    classes), else the bundled face's crops: model checks stay as strong as the data allows and
    still run on a clone without it."""
    from fer_training.data.fer2013 import default_data_dir, load_split

    try:
        images, _ = load_split(default_data_dir(), "PublicTest")
    except FileNotFoundError:
        return aligned_faces(count)
    return images[:: len(images) // count][:count]
