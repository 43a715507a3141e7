"""Test stand-in for tf2_geometry_msgs (no PyPI wheel)."""
