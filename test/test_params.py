"""Parameter tables: ranges and choices in the descriptors (what `ros2 param describe` shows and
rclpy enforces on `ros2 param set`)."""

from fer_ros.nodes.emotion_node import PARAMETERS
from fer_ros.ros.params import Spec, descriptor


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


def test_class_balance_changes_at_run_time_and_negative_means_the_cards_choice():
    import json

    from rclpy.parameter import Parameter
    from ros_helpers import ros_node

    from fer_ros.nodes.emotion_node import EmotionNode
    from fer_ros.vision.model_files import METADATA_FILE, SHIPPED_IMAGE_MODEL

    card = json.loads((SHIPPED_IMAGE_MODEL / METADATA_FILE).read_text())
    with ros_node("balance_probe") as (context, _, _executor):
        node = EmotionNode(context=context, namespace="/balance", parameter_overrides=[
            Parameter("image_topic", value="/balance/image"), Parameter("clip_model", value="none")])
        try:
            assert node.classifier.class_balance == card["class_balance"]  # default -1: the card's
            assert node.set_parameters([Parameter("class_balance", value=1.0)])[0].successful
            assert node.classifier.class_balance == 1.0
            refused = node.set_parameters([Parameter("class_balance", value=2.5)])[0]
            assert not refused.successful and node.classifier.class_balance == 1.0
            assert node.set_parameters([Parameter("class_balance", value=-1.0)])[0].successful
            assert node.classifier.class_balance == card["class_balance"]
        finally:
            node.destroy_node()
