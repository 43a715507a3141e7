"""The box-overlap tracker keeps ids on moving faces and survives short misses."""

from fer_ros.detect import Box
from fer_ros.track import IouTracker, iou


def test_iou():
    assert iou(Box(0, 0, 10, 10), Box(0, 0, 10, 10)) == 1.0
    assert iou(Box(0, 0, 10, 10), Box(20, 0, 10, 10)) == 0.0
    assert abs(iou(Box(0, 0, 10, 10), Box(5, 0, 10, 10)) - 50 / 150) < 1e-9


def test_ids_follow_two_moving_faces_through_a_missed_detection():
    tracker = IouTracker(min_iou=0.3, max_missed=2)
    a, b = Box(0, 0, 50, 50), Box(200, 0, 50, 50)
    assert tracker.update([a, b]) == [1, 2]
    # Listed in the other order and moved a little: ids stay with the boxes.
    a, b = Box(5, 2, 50, 50), Box(195, 0, 50, 50)
    assert tracker.update([b, a]) == [2, 1]
    assert tracker.update([Box(10, 4, 50, 50)]) == [1]          # b missed once
    assert tracker.update([Box(190, 0, 50, 50), Box(12, 4, 50, 50)]) == [2, 1]


def test_lost_track_is_retired_and_a_new_face_gets_a_new_id():
    tracker = IouTracker(max_missed=1)
    assert tracker.update([Box(0, 0, 50, 50)]) == [1]
    assert tracker.update([]) == []
    assert tracker.update([]) == []
    assert tracker.update([Box(0, 0, 50, 50)]) == [2]
