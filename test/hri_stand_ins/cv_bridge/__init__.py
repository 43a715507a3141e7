"""Test stand-in for ROS 2's cv_bridge (no PyPI wheel): the two conversions hri_face_detect uses."""

import numpy as np
from sensor_msgs.msg import Image

_CHANNELS = {"bgr8": 3, "rgb8": 3, "mono8": 1}


class CvBridge:
    def cv2_to_imgmsg(self, image: np.ndarray, encoding: str = "bgr8") -> Image:
        image = np.ascontiguousarray(image)
        height, width = image.shape[:2]
        return Image(height=height, width=width, encoding=encoding, is_bigendian=0,
                     step=width * _CHANNELS[encoding], data=image.tobytes())

    def imgmsg_to_cv2(self, msg: Image, desired_encoding: str = "passthrough") -> np.ndarray:
        if msg.encoding not in _CHANNELS:
            raise ValueError(f"stand-in cv_bridge: encoding {msg.encoding!r} not supported")
        channels = _CHANNELS[msg.encoding]
        rows = np.frombuffer(bytes(msg.data), np.uint8).reshape(msg.height, msg.step)
        image = rows[:, :msg.width * channels].reshape(msg.height, msg.width, channels)
        if desired_encoding in ("passthrough", msg.encoding):
            return image.copy() if channels > 1 else image[:, :, 0].copy()
        if desired_encoding == "bgr8" and msg.encoding == "rgb8":
            return image[:, :, ::-1].copy()
        if desired_encoding == "bgr8" and msg.encoding == "mono8":
            return np.repeat(image, 3, axis=2)
        raise ValueError(f"stand-in cv_bridge: {msg.encoding} to {desired_encoding} not supported")
