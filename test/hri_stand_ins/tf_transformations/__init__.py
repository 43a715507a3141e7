"""Test stand-in for tf_transformations (no PyPI wheel): the two functions hri_face_detect uses,
on transforms3d, in tf's (x, y, z, w) order."""

import numpy as np
from transforms3d.euler import euler2quat


def quaternion_from_euler(ai: float, aj: float, ak: float, axes: str = "sxyz") -> np.ndarray:
    w, x, y, z = euler2quat(ai, aj, ak, axes)
    return np.array([x, y, z, w])


def quaternion_slerp(q0, q1, fraction: float, spin: int = 0, shortestpath: bool = True) -> np.ndarray:
    q0, q1 = np.asarray(q0, float) / np.linalg.norm(q0), np.asarray(q1, float) / np.linalg.norm(q1)
    d = float(np.dot(q0, q1))
    if shortestpath and d < 0.0:
        d, q1 = -d, -q1
    if abs(abs(d) - 1.0) < 1e-12:
        return q0
    angle = np.arccos(np.clip(d, -1.0, 1.0)) + spin * np.pi
    if abs(angle) < 1e-12:
        return q0
    s = 1.0 / np.sin(angle)
    return (np.sin((1.0 - fraction) * angle) * q0 + np.sin(fraction * angle) * q1) * s
