"""Which tracked faces have held one emotion long enough to react to: the state behind the
example behaviour node (`fer_ros.nodes.emotion_reactions`), plain Python so that it is tested and
reused without ROS.

Hysteresis: a face takes up an emotion when its score reaches `min_confidence`, and keeps it
while that emotion's score stays at `release_confidence` or above; up to `max_misses`
consecutive frames below it (a blink, a bad crop) do not end the hold. Once held for
`hold_time` seconds it is announced, once per hold.
"""

from dataclasses import dataclass


@dataclass
class _Hold:
    label: str | None = None
    since: float = 0.0
    misses: int = 0
    announced: bool = False
    last_seen: float = 0.0


@dataclass(frozen=True)
class Reaction:
    track_id: int
    label: str
    held_s: float
    confidence: float

    def text(self, clip: str | None = None) -> str:
        return (f"face {self.track_id}: {self.label} for {self.held_s:.1f} s"
                + (f" ({clip})" if clip else ""))


class EmotionHolds:
    def __init__(self, min_confidence: float = 0.5, release_confidence: float = 0.35, hold_time: float = 1.0,
                 max_misses: int = 2, forget_after: float = 2.0):
        if release_confidence > min_confidence:
            raise ValueError(f"release_confidence ({release_confidence}) must not exceed "
                             f"min_confidence ({min_confidence})")
        self.min_confidence, self.release_confidence = min_confidence, release_confidence
        self.hold_time, self.max_misses, self.forget_after = hold_time, max_misses, forget_after
        self._tracks: dict[int, _Hold] = {}

    def update(self, time_s: float, faces: list[tuple[int, dict[str, float]]]) -> list[Reaction]:
        """One frame at `time_s` (its stamp): (track id, scores by label) of each face; the
        faces whose hold reached `hold_time` with this frame."""
        reactions = []
        for track_id, scores in faces:
            hold = self._tracks.setdefault(track_id, _Hold())
            hold.last_seen = time_s
            if hold.label is not None and scores.get(hold.label, 0.0) >= self.release_confidence:
                hold.misses = 0
            elif hold.label is not None and hold.misses < self.max_misses:
                hold.misses += 1
                continue
            else:
                top = max(scores, key=scores.get)
                hold.label = top if scores[top] >= self.min_confidence else None
                hold.since, hold.misses, hold.announced = time_s, 0, False
            if hold.label is not None and not hold.announced and time_s - hold.since >= self.hold_time:
                hold.announced = True
                reactions.append(Reaction(track_id, hold.label, time_s - hold.since, scores[hold.label]))
        for track_id in [t for t, h in self._tracks.items() if time_s - h.last_seen > self.forget_after]:
            del self._tracks[track_id]
        return reactions

    def held(self, track_id: int) -> str | None:
        """The emotion a track holds now (announced or not), if any."""
        hold = self._tracks.get(track_id)
        return hold.label if hold else None
