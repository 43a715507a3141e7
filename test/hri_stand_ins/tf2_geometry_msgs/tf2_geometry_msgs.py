"""Test stand-in: the two names hri_face_detect imports from here, from geometry_msgs."""

from geometry_msgs.msg import Point, PointStamped

__all__ = ["Point", "PointStamped"]
