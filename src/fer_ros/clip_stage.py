"""Clip-level emotion per tracked face: ring buffers of aligned crops, classified by clip models.

Each track keeps its last `length` aligned crops. Once full, and then every `stride` frames,
the clip models see `frames` crops evenly spaced over the buffer (all of them when `length`
equals the models' 12 frames). A frame in which a track is missing ends that track's buffer:
after a gap, or when the tracker hands an id to someone else, a clip never mixes frames from
before and after.
"""

from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np

from fer_ros.classify import EmotionClassifier
from fer_ros.pipeline import FaceResult


@dataclass(frozen=True)
class ClipResult:
    track_id: int
    model: str
    start_stamp: Any  # the stamps of the first and last frames used, as the caller passed them
    end_stamp: Any
    frame_count: int
    label: str
    confidence: float
    scores: np.ndarray


@dataclass
class _Track:
    crops: deque
    stamps: deque
    since_classified: int = 0
    classified: bool = False


class ClipStage:
    def __init__(self, models: dict[str, EmotionClassifier], length: int = 12, stride: int = 6):
        frames = {m.input_shape[0] for m in models.values()}
        if len(frames) > 1:
            raise ValueError(f"clip models take different frame counts: {sorted(frames)}")
        self.frames = frames.pop() if frames else length
        if length < self.frames:
            raise ValueError(f"clip length {length} is shorter than the {self.frames} frames the clip models take")
        self.models = models
        self.length = length
        self.stride = stride
        self._tracks: dict[int, _Track] = {}

    def process(self, faces: list[FaceResult], stamp: Any) -> list[ClipResult]:
        """Add this frame's faces; the clips completed by it, classified by every model."""
        present = {f.track_id for f in faces}
        for gone in set(self._tracks) - present:
            del self._tracks[gone]
        ready = []
        for face in faces:
            track = self._tracks.setdefault(face.track_id, _Track(deque(maxlen=self.length), deque(maxlen=self.length)))
            track.crops.append(face.face.crop)
            track.stamps.append(stamp)
            track.since_classified += 1
            if len(track.crops) == self.length and (track.since_classified >= self.stride or not track.classified):
                ready.append(face.track_id)
        if not ready:
            return []
        pick = np.linspace(0, self.length - 1, self.frames).round().astype(int)
        clips = np.stack([np.stack(self._tracks[t].crops)[pick] for t in ready])
        results = []
        for name, model in self.models.items():
            for track_id, scores in zip(ready, model.scores(clips)):
                track = self._tracks[track_id]
                top = int(np.argmax(scores))
                results.append(ClipResult(track_id, name, track.stamps[0], track.stamps[-1], self.frames,
                                          model.labels[top], float(scores[top]), scores))
        for track_id in ready:
            self._tracks[track_id].since_classified = 0
            self._tracks[track_id].classified = True
        return results

    def reset(self) -> None:
        self._tracks.clear()
