"""Parameter tables: ranges and choices in the descriptors (what `ros2 param describe` shows and
rclpy enforces on `ros2 param set`)."""

from fer_ros.emotion_node import PARAMETERS
from fer_ros.params import Spec, descriptor


def test_descriptors_carry_ranges_and_choices():
    detect_every = descriptor(PARAMETERS["detect_every"])
    assert [(r.from_value, r.to_value) for r in detect_every.integer_range] == [(1, 30)]
    assert not detect_every.read_only and detect_every.additional_constraints == "from 1 to 30"
    threshold = descriptor(PARAMETERS["detection_threshold"])
    assert [(r.from_value, r.to_value) for r in threshold.floating_point_range] == [(0.0, 1.0)]
    assert descriptor(PARAMETERS["detector"]).additional_constraints == "one of yunet, hog, haar"
    assert descriptor(PARAMETERS["detector"]).read_only  # a start-up choice
    open_ended = descriptor(Spec(20, "pixels", low=8))
    assert [(r.from_value, r.to_value) for r in open_ended.integer_range] == [(8, 2**31 - 1)]
    path = descriptor(Spec("", "a path"))
    assert path.integer_range == [] and path.floating_point_range == [] and path.additional_constraints == ""
