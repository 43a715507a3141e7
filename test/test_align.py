"""Detection and alignment on a real face photograph (the bundled public-domain one)."""

import cv2
import numpy as np
import pytest

from fer_ros.align import EYE_LINE, FaceAligner, align_face, get_faces
from fer_ros.detect import FaceDetector
from fer_ros.sample_clip import face_photo


def eye_angle(left, right) -> float:
    return float(np.degrees(np.arctan2(right[1] - left[1], right[0] - left[0])))


def rotated(image: np.ndarray, degrees: float) -> np.ndarray:
    h, w = image.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    return cv2.warpAffine(image, m, (w, h), borderMode=cv2.BORDER_REPLICATE)


@pytest.mark.parametrize("degrees", [-12.0, 12.0])
def test_eye_line_is_level_after_alignment_of_a_rotated_face(degrees):
    aligner = FaceAligner()
    photo = rotated(face_photo(), degrees)
    faces = aligner.faces(photo)
    assert len(faces) == 1
    # The eye locator sees the rotation (cv2 turns counter-clockwise for positive angles).
    upright = aligner.faces(face_photo())[0]
    seen = eye_angle(faces[0].left_eye, faces[0].right_eye) - eye_angle(upright.left_eye, upright.right_eye)
    assert abs(seen + degrees) < 2.0
    # The aligned crops of the rotated and the upright photo differ by less than 1 degree,
    # measured independently of the landmarks by ECC image registration.
    def big_crop(image, face):
        grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        return align_face(grey, face.left_eye, face.right_eye, size=240).astype(np.float32)

    warp = np.eye(2, 3, dtype=np.float32)
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 200, 1e-6)
    _, warp = cv2.findTransformECC(big_crop(face_photo(), upright), big_crop(photo, faces[0]),
                                   warp, cv2.MOTION_EUCLIDEAN, criteria, None, 5)
    assert abs(np.degrees(np.arctan2(warp[1, 0], warp[0, 0]))) < 1.0


def test_crop_follows_the_factors():
    # Pixel values encode their coordinates, so the crop's border values tell where it was cut.
    h, w = 700, 600
    xs = np.tile(np.arange(w, dtype=np.float64) / 3, (h, 1)).astype(np.uint8)
    ys = np.tile((np.arange(h, dtype=np.float64) / 3)[:, None], (1, w)).astype(np.uint8)
    left, right, d = (250.0, 300.0), (350.0, 300.0), 100.0
    for x_factor, y_factor in [(2.1, 3.2), (1.5, 2.5)]:
        cx = align_face(xs, left, right, x_factor, y_factor)
        cy = align_face(ys, left, right, x_factor, y_factor)
        assert cx.shape == cy.shape == (48, 48)
        x0, x1 = 300 - x_factor * d / 2, 300 + x_factor * d / 2
        y0 = 300 - EYE_LINE * y_factor * d
        y1 = y0 + y_factor * d
        cx, cy = cx.astype(float), cy.astype(float)
        assert abs(cx[24, 0] * 3 - x0) < 3 * 3 and abs(cx[24, -1] * 3 - x1) < 3 * 3
        assert abs(cy[0, 24] * 3 - y0) < 3 * 3 and abs(cy[-1, 24] * 3 - y1) < 3 * 3


@pytest.mark.parametrize("convert", [None, cv2.COLOR_BGR2GRAY, cv2.COLOR_BGR2BGRA])
def test_get_faces_finds_the_face_in_grey_bgr_and_bgra(convert):
    image = face_photo() if convert is None else cv2.cvtColor(face_photo(), convert)
    faces, locations = get_faces(image)
    assert len(faces) == len(locations) == 1
    assert faces[0].shape == (48, 48) and faces[0].dtype == np.uint8
    x, y, w, h = locations[0]
    # The face of the photo lies around (223, 127), about 90 px wide.
    assert x < 223 < x + w and y < 127 < y + h and 60 < w < 130


@pytest.mark.parametrize("shape", [(0, 0), (1, 1), (5, 7, 3), (480, 640), (480, 640, 4)])
def test_get_faces_on_images_without_a_face_gives_empty_lists(shape):
    assert get_faces(np.full(shape, 127, dtype=np.uint8)) == ([], [])


def test_haar_detector_also_finds_the_face():
    grey = cv2.cvtColor(face_photo(), cv2.COLOR_BGR2GRAY)
    boxes = FaceDetector("haar").detect(grey)
    assert any(b.x < 223 < b.x + b.w and b.y < 127 < b.y + b.h for b in boxes)


def test_bad_detector_name_is_refused():
    with pytest.raises(ValueError, match="unknown face detector"):
        FaceDetector("mtcnn")


def test_detection_on_a_shrunk_frame_gives_boxes_in_full_frame_pixels():
    from fer_ros.track import iou

    big = cv2.resize(cv2.cvtColor(face_photo(), cv2.COLOR_BGR2GRAY), (1024, 1024))
    (full,) = FaceDetector(scale=1.0).detect(big)
    (half,) = FaceDetector(scale=0.5).detect(big)
    assert iou(full, half) > 0.7 and 150 < half.w < 220
