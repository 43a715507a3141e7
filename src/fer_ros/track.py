"""Face tracking by box overlap: a face keeps its id while its boxes keep overlapping."""

from dataclasses import dataclass

from fer_ros.detect import Box


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
    missed: int = 0


class IouTracker:
    """Greedy IoU matcher: best-overlapping pairs first; a track survives `max_missed` frames
    without a match (short occlusions, missed detections) before its id is retired."""

    def __init__(self, min_iou: float = 0.3, max_missed: int = 5):
        self.min_iou = min_iou
        self.max_missed = max_missed
        self._tracks: list[_Track] = []
        self._next_id = 1

    def update(self, boxes: list[Box]) -> list[int]:
        """Track ids for `boxes` (same order); unmatched boxes get new ids."""
        pairs = sorted(((iou(t.box, b), ti, bi) for ti, t in enumerate(self._tracks)
                        for bi, b in enumerate(boxes)), reverse=True)
        ids: list[int | None] = [None] * len(boxes)
        used: set[int] = set()
        for overlap, ti, bi in pairs:
            if overlap < self.min_iou:
                break
            if ti in used or ids[bi] is not None:
                continue
            used.add(ti)
            track = self._tracks[ti]
            track.box, track.missed = boxes[bi], 0
            ids[bi] = track.track_id
        survivors = []
        for ti, track in enumerate(self._tracks):
            if ti not in used:
                track.missed += 1
            if track.missed <= self.max_missed:
                survivors.append(track)
        self._tracks = survivors
        for bi, box in enumerate(boxes):
            if ids[bi] is None:
                ids[bi] = self._next_id
                self._tracks.append(_Track(self._next_id, box))
                self._next_id += 1
        return [i for i in ids if i is not None]
