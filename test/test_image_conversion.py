"""sensor_msgs/Image and CompressedImage <-> numpy: every encoding, padding, byte order, errors."""

from array import array

import numpy as np
import pytest
from sensor_msgs.msg import CompressedImage, Image

from fer_ros.ros.image_conversion import (
    ENCODINGS,
    ImageConversionError,
    array_to_compressed,
    array_to_image,
    compressed_to_array,
    image_to_array,
    to_vision_order,
)
from fer_ros.sample_clip import face_photo


def pixels_for(encoding: str, h: int = 5, w: int = 7) -> np.ndarray:
    channels, dtype = ENCODINGS[encoding]
    shape = (h, w) if channels == 1 else (h, w, channels)
    rng = np.random.default_rng(0)
    return rng.integers(0, np.iinfo(dtype).max, size=shape, dtype=dtype, endpoint=True)


@pytest.mark.parametrize("encoding", sorted(ENCODINGS))
def test_round_trip_every_encoding(encoding):
    pixels = pixels_for(encoding)
    msg = array_to_image(pixels, encoding)
    assert msg.encoding == encoding and (msg.height, msg.width) == pixels.shape[:2]
    out = image_to_array(msg)
    assert out.dtype == pixels.dtype and np.array_equal(out, pixels)


@pytest.mark.parametrize("encoding", sorted(ENCODINGS))
def test_padded_rows_are_cropped(encoding):
    pixels = pixels_for(encoding)
    row = pixels.reshape(pixels.shape[0], -1).view(np.uint8)
    padded = np.pad(row, ((0, 0), (0, 6)), constant_values=255)
    msg = array_to_image(pixels, encoding)
    msg.step = padded.shape[1]
    msg.data = array("B", padded.tobytes())
    assert np.array_equal(image_to_array(msg), pixels)


def test_big_endian_mono16():
    pixels = pixels_for("mono16")
    msg = array_to_image(pixels, "mono16")
    msg.is_bigendian = True
    msg.data = array("B", pixels.astype(">u2").tobytes())
    assert np.array_equal(image_to_array(msg), pixels)


def test_rgb_is_turned_into_bgr_for_the_vision_core():
    bgr = pixels_for("bgr8")
    rgb_msg = array_to_image(np.ascontiguousarray(bgr[:, :, ::-1]), "rgb8")
    assert np.array_equal(to_vision_order(image_to_array(rgb_msg), "rgb8"), bgr)


def bad(**fields) -> Image:
    msg = array_to_image(pixels_for("bgr8"), "bgr8")
    for key, value in fields.items():
        setattr(msg, key, value)
    return msg


@pytest.mark.parametrize("msg, message", [
    (bad(encoding="yuv422"), "unsupported encoding"),
    (bad(encoding="32FC1"), "unsupported encoding"),
    (bad(step=20), "step 20 is smaller"),
    (bad(data=array("B", bytes(30))), "data holds 30 bytes"),
    (bad(height=50), "data holds"),
])
def test_inconsistent_messages_raise_a_clear_error(msg, message):
    with pytest.raises(ImageConversionError, match=message):
        image_to_array(msg)


def test_array_that_does_not_match_the_encoding_is_refused():
    with pytest.raises(ImageConversionError, match="is not mono8"):
        array_to_image(pixels_for("bgr8"), "mono8")


def test_compressed_round_trip_and_corrupt_data():
    photo = face_photo()
    msg = array_to_compressed(photo, "png")
    assert np.array_equal(compressed_to_array(msg), photo)
    jpeg = array_to_compressed(photo, "jpeg")
    assert np.abs(compressed_to_array(jpeg).astype(int) - photo).mean() < 5
    truncated = CompressedImage(format="jpeg", data=array("B", bytes(jpeg.data)[:100]))
    for broken in (truncated, CompressedImage(format="png", data=array("B", b"not an image")),
                   CompressedImage(format="jpeg")):
        with pytest.raises(ImageConversionError, match="cannot decode"):
            compressed_to_array(broken)


def test_zero_sized_image_converts_to_an_empty_array():
    msg = Image(encoding="bgr8", height=0, width=0, step=0)
    assert image_to_array(msg).shape == (0, 0, 3)
