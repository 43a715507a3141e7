"""Test stand-in for tf2_ros (no PyPI wheel): the classes hri_face_detect builds, doing nothing."""


class Buffer:
    def __init__(self, *args, **kwargs):
        pass

    def transform(self, *args, **kwargs):
        raise LookupError("stand-in tf2_ros: no transforms")


class TransformBroadcaster:
    def __init__(self, *args, **kwargs):
        pass

    def sendTransform(self, *args, **kwargs) -> None:  # noqa: N802 (tf2_ros's name)
        pass


class TransformListener:
    def __init__(self, *args, **kwargs):
        pass

    def unregister(self) -> None:
        pass
