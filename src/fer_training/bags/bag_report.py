"""Scores a replay: results matched to the answer key by stamp, faces matched by position."""

from dataclasses import dataclass

import numpy as np

from fer_ros.vision.labels import LABELS
from fer_training.evaluation.metrics import confusion_matrix

Box = tuple[int, int, int, int]  # x, y, w, h


@dataclass(frozen=True)
class ExpectedFace:
    label: int
    box: Box


@dataclass(frozen=True)
class FoundFace:
    label: str
    box: Box


def _centre_inside(found: Box, expected: Box) -> bool:
    cx, cy = found[0] + found[2] / 2, found[1] + found[3] / 2
    return expected[0] <= cx < expected[0] + expected[2] and expected[1] <= cy < expected[1] + expected[3]


def match_faces(expected: list[ExpectedFace], found: list[FoundFace]) -> list[FoundFace | None]:
    """For each expected face, the found face whose box centre lies in its region (the
    largest such face), each found face used once; None when there is none."""
    used: set[int] = set()
    matches: list[FoundFace | None] = []
    for face in expected:
        inside = [(f.box[2] * f.box[3], i) for i, f in enumerate(found)
                  if i not in used and _centre_inside(f.box, face.box)]
        if inside:
            _, best = max(inside)
            used.add(best)
            matches.append(found[best])
        else:
            matches.append(None)
    return matches


def percentiles(values_ms: list[float]) -> dict[str, float]:
    if not values_ms:
        return {"p50": 0.0, "p95": 0.0, "p99": 0.0, "max": 0.0}
    v = np.asarray(values_ms)
    return {"p50": float(np.percentile(v, 50)), "p95": float(np.percentile(v, 95)),
            "p99": float(np.percentile(v, 99)), "max": float(v.max())}


def score_replay(truth: dict[int, list[ExpectedFace]], results: dict[int, list[FoundFace]],
                 frames_sent: int, latencies_ms: list[float], seconds: float) -> dict:
    """The report of fer-eval-bag (JSON keys as documented in the README)."""
    answered = [stamp for stamp in truth if stamp in results]
    expected = sum(len(faces) for faces in truth.values())
    true_labels, predicted = [], []
    for stamp in answered:
        for face, match in zip(truth[stamp], match_faces(truth[stamp], results[stamp])):
            if match is not None and match.label in LABELS:
                true_labels.append(face.label)
                predicted.append(LABELS.index(match.label))
    true_arr, pred_arr = np.array(true_labels, dtype=int), np.array(predicted, dtype=int)
    correct = int(np.sum(true_arr == pred_arr))
    return {
        "frames_sent": frames_sent,
        "frames_answered": len(answered),
        "dropped": frames_sent - len(answered),
        "faces_expected": expected,
        "faces_found": len(true_labels),
        "accuracy": correct / len(true_labels) if true_labels else 0.0,
        "accuracy_all": correct / expected if expected else 0.0,
        "labels": list(LABELS),
        "confusion": confusion_matrix(true_arr, pred_arr, len(LABELS)).tolist(),
        "latency_ms": percentiles(latencies_ms),
        "fps": len(answered) / seconds if seconds > 0 else 0.0,
    }
