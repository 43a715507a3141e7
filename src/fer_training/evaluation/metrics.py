"""Classification figures shared by fer-evaluate and fer-eval-bag."""

import numpy as np


def confusion_matrix(truth: np.ndarray, predicted: np.ndarray, num_classes: int) -> np.ndarray:
    """Counts, rows = truth, columns = prediction."""
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(truth, dtype=int), np.asarray(predicted, dtype=int)), 1)
    return matrix


def per_class(confusion: np.ndarray, labels: list[str]) -> dict[str, dict[str, float]]:
    """Precision, recall, F1 and support of each label (0 where undefined)."""
    confusion = np.asarray(confusion)
    hits = np.diag(confusion).astype(float)
    predicted, support = confusion.sum(axis=0), confusion.sum(axis=1)
    precision = np.divide(hits, predicted, out=np.zeros_like(hits), where=predicted > 0)
    recall = np.divide(hits, support, out=np.zeros_like(hits), where=support > 0)
    denominator = precision + recall
    f1 = np.divide(2 * precision * recall, denominator, out=np.zeros_like(hits), where=denominator > 0)
    return {label: {"precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]),
                    "support": int(support[i])} for i, label in enumerate(labels)}


def macro_f1(classes: dict[str, dict[str, float]]) -> float:
    """Mean F1 over the labels that occur in the data."""
    scores = [c["f1"] for c in classes.values() if c["support"] > 0]
    return float(np.mean(scores)) if scores else 0.0


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray, bins: int = 15) -> float:
    """ECE: |accuracy - mean confidence| averaged over equal-width confidence bins, weighted
    by how many predictions fall in each."""
    confidence, correct = np.asarray(confidence, dtype=float), np.asarray(correct, dtype=float)
    if confidence.size == 0:
        return 0.0
    which = np.minimum((confidence * bins).astype(int), bins - 1)
    error = 0.0
    for b in range(bins):
        members = which == b
        if members.any():
            error += members.mean() * abs(correct[members].mean() - confidence[members].mean())
    return float(error)


def balanced_recall(classes: dict[str, dict[str, float]]) -> float:
    """Mean recall over the labels that occur in the data: accuracy with every class weighing alike."""
    recalls = [c["recall"] for c in classes.values() if c["support"] > 0]
    return float(np.mean(recalls)) if recalls else 0.0


def above_thresholds(confidence: np.ndarray, correct: np.ndarray, thresholds: tuple[float, ...]) -> list[dict]:
    """What a `confidence_threshold` keeps: for each threshold the share of answers at or above
    it and their accuracy (the rest would be published as `unknown`)."""
    confidence, correct = np.asarray(confidence, dtype=float), np.asarray(correct, dtype=bool)
    rows = []
    for threshold in thresholds:
        kept = confidence >= threshold
        rows.append({"threshold": float(threshold), "kept": float(kept.mean()) if kept.size else 0.0,
                     "accuracy": float(correct[kept].mean()) if kept.any() else 0.0})
    return rows
