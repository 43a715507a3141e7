"""Classification figures on hand-made cases."""

import numpy as np
import pytest

from fer_training.evaluation.metrics import (
    above_thresholds,
    confusion_matrix,
    expected_calibration_error,
    macro_f1,
    per_class,
)


def test_confusion_per_class_and_macro_f1():
    confusion = confusion_matrix(np.array([0, 0, 1, 1, 2]), np.array([0, 1, 1, 1, 0]), 4)
    assert confusion.tolist() == [[1, 1, 0, 0], [0, 2, 0, 0], [1, 0, 0, 0], [0, 0, 0, 0]]
    classes = per_class(confusion, ["a", "b", "c", "d"])
    assert classes["a"] == {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2}
    assert classes["b"]["precision"] == pytest.approx(2 / 3) and classes["b"]["recall"] == 1.0
    assert classes["c"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    assert macro_f1(classes) == pytest.approx((0.5 + 0.8 + 0.0) / 3)  # d has no support


def test_expected_calibration_error():
    # Two bins: confidence 0.95 right half the time (gap 0.45), 0.25 always wrong (gap 0.25).
    confidence = np.array([0.95, 0.95, 0.25, 0.25])
    correct = np.array([1, 0, 0, 0])
    assert expected_calibration_error(confidence, correct) == pytest.approx(0.5 * 0.45 + 0.5 * 0.25)
    assert expected_calibration_error(np.array([0.7] * 10), np.array([1] * 7 + [0] * 3)) == pytest.approx(0.0)


def test_above_thresholds_gives_the_share_kept_and_its_accuracy():
    confidence = np.array([0.95, 0.8, 0.75, 0.6, 0.4])
    correct = np.array([True, True, False, True, False])
    rows = above_thresholds(confidence, correct, (0.5, 0.7, 0.9, 0.99))
    assert [r["kept"] for r in rows] == pytest.approx([0.8, 0.6, 0.2, 0.0])
    assert [r["accuracy"] for r in rows] == pytest.approx([0.75, 2 / 3, 1.0, 0.0])
