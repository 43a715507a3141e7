"""sensor_msgs/Image and CompressedImage <-> numpy, without cv_bridge.

Handles row padding (`step`), `is_bigendian` for 16-bit data and explicit encodings; any
mismatch between the declared size and the data raises ImageConversionError with the reason.
"""

import sys
from array import array

import cv2
import numpy as np
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header

# encoding -> (channels, dtype)
ENCODINGS: dict[str, tuple[int, np.dtype]] = {
    "mono8": (1, np.dtype(np.uint8)),
    "mono16": (1, np.dtype(np.uint16)),
    "bgr8": (3, np.dtype(np.uint8)),
    "rgb8": (3, np.dtype(np.uint8)),
    "bgra8": (4, np.dtype(np.uint8)),
    "rgba8": (4, np.dtype(np.uint8)),
}
_TO_BGR = {"rgb8": cv2.COLOR_RGB2BGR, "rgba8": cv2.COLOR_RGBA2BGRA}


class ImageConversionError(ValueError):
    """An image message that cannot be turned into pixels."""


def image_to_array(msg: Image) -> np.ndarray:
    """Pixels of `msg` as H x W (one channel) or H x W x C, in the message's channel order."""
    if msg.encoding not in ENCODINGS:
        raise ImageConversionError(
            f"unsupported encoding {msg.encoding!r}; supported: {', '.join(ENCODINGS)}")
    channels, dtype = ENCODINGS[msg.encoding]
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    row_bytes = width * channels * dtype.itemsize
    if step < row_bytes:
        raise ImageConversionError(
            f"step {step} is smaller than a {msg.encoding} row of {width} pixels ({row_bytes} bytes)")
    if step % dtype.itemsize:
        raise ImageConversionError(f"step {step} is not a multiple of the {dtype.itemsize}-byte pixel")
    data = np.frombuffer(msg.data, dtype=np.uint8)
    if data.size < step * height:
        raise ImageConversionError(
            f"data holds {data.size} bytes but {height} rows of step {step} need {step * height}")
    rows = data[: step * height].reshape(height, step)[:, :row_bytes]
    pixels = np.ascontiguousarray(rows).view(dtype.newbyteorder(">" if msg.is_bigendian else "<"))
    pixels = pixels.astype(dtype, copy=False)  # native byte order
    return pixels.reshape(height, width, channels) if channels > 1 else pixels.reshape(height, width)


def to_vision_order(pixels: np.ndarray, encoding: str) -> np.ndarray:
    """Grey, BGR or BGRA pixels, the orders the vision core accepts."""
    code = _TO_BGR.get(encoding)
    return cv2.cvtColor(pixels, code) if code is not None else pixels


def array_to_image(pixels: np.ndarray, encoding: str, header: Header | None = None) -> Image:
    """An Image message of `pixels` with an explicit encoding and no row padding."""
    if encoding not in ENCODINGS:
        raise ImageConversionError(f"unsupported encoding {encoding!r}")
    channels, dtype = ENCODINGS[encoding]
    expected_ndim = 2 if channels == 1 else 3
    if pixels.ndim != expected_ndim or (channels > 1 and pixels.shape[2] != channels) \
            or pixels.dtype != dtype:
        raise ImageConversionError(
            f"array of shape {pixels.shape} and dtype {pixels.dtype} is not {encoding}")
    msg = Image()
    if header is not None:
        msg.header = header
    msg.height, msg.width = int(pixels.shape[0]), int(pixels.shape[1])
    msg.encoding = encoding
    msg.is_bigendian = sys.byteorder == "big"
    msg.step = msg.width * channels * dtype.itemsize
    # An array('B') is taken as is; bytes or a list would be checked element by element.
    msg.data = array("B", np.ascontiguousarray(pixels).tobytes())
    return msg


def compressed_to_array(msg: CompressedImage) -> np.ndarray:
    """BGR (or grey) pixels of a JPEG/PNG CompressedImage."""
    buffer = np.frombuffer(msg.data, dtype=np.uint8)
    pixels = cv2.imdecode(buffer, cv2.IMREAD_UNCHANGED) if buffer.size else None
    if pixels is None:
        raise ImageConversionError(
            f"cannot decode CompressedImage (format {msg.format!r}, {buffer.size} bytes)")
    return pixels


def array_to_compressed(pixels: np.ndarray, fmt: str = "jpeg", header: Header | None = None,
                        quality: int = 95) -> CompressedImage:
    """A CompressedImage of BGR or grey pixels; `format` as image_transport's compressed plugin
    writes it (e.g. "bgr8; jpeg compressed bgr8"), so its subscribers decode ours too."""
    params = [cv2.IMWRITE_JPEG_QUALITY, quality] if fmt == "jpeg" else []
    ok, encoded = cv2.imencode(".jpg" if fmt == "jpeg" else f".{fmt}", pixels, params)
    if not ok:
        raise ImageConversionError(f"cannot encode an image of shape {pixels.shape} as {fmt}")
    encoding = "mono8" if pixels.ndim == 2 else "bgr8"
    msg = CompressedImage()
    if header is not None:
        msg.header = header
    msg.format = f"{encoding}; {fmt} compressed {encoding}"
    msg.data = array("B", encoded.tobytes())
    return msg
