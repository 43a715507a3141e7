"""Face tracking by box overlap with a constant-velocity prediction: a face keeps its id
while its boxes keep overlapping where the track expects it, through short occlusions."""

import itertools
from collections.abc import Iterator
from dataclasses import dataclass

from fer_ros.vision.detect import Box


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two boxes."""
    ix = max(0, min(a.x + a.w, b.x + b.w) - max(a.x, b.x))
    iy = max(0, min(a.y + a.h, b.y + b.h) - max(a.y, b.y))
    inter = ix * iy
    union = a.w * a.h + b.w * b.h - inter
    return inter / union if union > 0 else 0.0


@dataclass
class _Track:
    track_id: int
    box: Box
    vx: float = 0.0  # smoothed motion of the box centre, pixels per frame
    vy: float = 0.0
    missed: int = 0

    def predicted(self) -> Box:
        """Where the face should be now, `missed + 1` frames after it was last seen."""
        steps = self.missed + 1
        return Box(int(round(self.box.x + self.vx * steps)), int(round(self.box.y + self.vy * steps)),
                   self.box.w, self.box.h)

    def seen(self, box: Box) -> None:
        steps = self.missed + 1
        dx = (box.x + box.w / 2 - self.box.x - self.box.w / 2) / steps
        dy = (box.y + box.h / 2 - self.box.y - self.box.h / 2) / steps
        self.vx, self.vy = 0.5 * self.vx + 0.5 * dx, 0.5 * self.vy + 0.5 * dy
        self.box, self.missed = box, 0


class IouTracker:
    """Greedy matching of detections to predicted track boxes, best overlap first; a track
    survives `max_missed` frames without a match (occlusions, missed detections), moving on
    at its last speed, before its id is retired. Ids are never reused."""

    def __init__(self, min_iou: float = 0.3, max_missed: int = 5, ids: Iterator[int] | None = None):
        self.min_iou = min_iou
        self.max_missed = max_missed
        self._tracks: list[_Track] = []
        self._ids = ids or itertools.count(1)  # shared by the trackers of several cameras: ids unique across them

    def reset(self) -> None:
        """Retire every track (ids are not reused)."""
        self._tracks = []

    def update(self, boxes: list[Box]) -> list[int]:
        """Track ids for `boxes` (same order); unmatched boxes get new ids."""
        predicted = [t.predicted() for t in self._tracks]
        pairs = sorted(((iou(p, b), ti, bi) for ti, p in enumerate(predicted)
                        for bi, b in enumerate(boxes)), reverse=True)
        ids: list[int | None] = [None] * len(boxes)
        used: set[int] = set()
        for overlap, ti, bi in pairs:
            if overlap < self.min_iou:
                break
            if ti in used or ids[bi] is not None:
                continue
            used.add(ti)
            self._tracks[ti].seen(boxes[bi])
            ids[bi] = self._tracks[ti].track_id
        survivors = []
        for ti, track in enumerate(self._tracks):
            if ti not in used:
                track.missed += 1
            if track.missed <= self.max_missed:
                survivors.append(track)
        self._tracks = survivors
        for bi, box in enumerate(boxes):
            if ids[bi] is None:
                ids[bi] = next(self._ids)
                self._tracks.append(_Track(ids[bi], box))
        return [i for i in ids if i is not None]
