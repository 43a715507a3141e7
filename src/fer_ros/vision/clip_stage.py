"""Clip-level emotion per tracked face: ring buffers of aligned crops, classified by clip models.

Each track keeps its last `length` aligned crops. Once full, and then every `stride` frames,
the clip models see `frames` crops evenly spaced over the buffer (all of them when `length`
equals the models' 12 frames). A frame in which a track is missing ends that track's buffer:
after a gap, or when the tracker hands an id to someone else, a clip never mixes frames from
before and after.

When a clip model's feature extractor is the image model's own (the shipped models are built
so), the buffers also keep each frame's feature map, which the image model computed anyway,
and only the clip model's head runs: the same scores as the whole model on the crops, at a
fraction of the cost. With the image model's mirror averaging (`flip_tta`), the maps of each
face's mirror image are kept too and the head's scores are averaged over the clip and its
mirror image, as the per-frame scores are.
"""

from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np

from fer_ros.vision.classify import EmotionClassifier
from fer_ros.vision.pipeline import FaceResult


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
class _ClipBuffer:
    crops: deque
    features: deque
    stamps: deque
    since_classified: int = 0
    classified: bool = False


class ClipStage:
    def __init__(self, models: dict[str, EmotionClassifier], length: int = 12, stride: int = 6,
                 image_model: EmotionClassifier | None = None):
        frames = {m.input_shape[0] for m in models.values()}
        if len(frames) > 1:
            raise ValueError(f"clip models take different frame counts: {sorted(frames)}")
        self.frames = frames.pop() if frames else length
        if length < self.frames:
            raise ValueError(f"clip length {length} is shorter than the {self.frames} frames the clip models take")
        self.models = models
        self.length = length
        self.stride = stride
        self._tracks: dict[int, _ClipBuffer] = {}
        self.from_features = {name: image_model is not None and m.shares_features_with(image_model)
                              for name, m in models.items()}
        self.needs_features = any(self.from_features.values())

    def sibling(self) -> "ClipStage":
        """A stage with the same models and settings and buffers of its own: for another camera,
        whose frames must not end this one's tracks."""
        twin = ClipStage.__new__(ClipStage)
        twin.__dict__.update(self.__dict__, _tracks={})
        return twin

    def reset(self) -> None:
        """Every buffer dropped: no clip spans a jump of the stream."""
        self._tracks.clear()

    def process(self, faces: list[FaceResult], stamp: Any) -> list[ClipResult]:
        """Add this frame's faces; the clips completed by it, classified by every model."""
        present = {f.track_id for f in faces}
        for gone in set(self._tracks) - present:
            del self._tracks[gone]
        ready = []
        for face in faces:
            track = self._tracks.setdefault(face.track_id, _ClipBuffer(*(deque(maxlen=self.length) for _ in range(3))))
            track.crops.append(face.face.crop)
            track.features.append(face.features)
            track.stamps.append(stamp)
            track.since_classified += 1
            if len(track.crops) == self.length and (track.since_classified >= self.stride or not track.classified):
                ready.append(face.track_id)
        if not ready:
            return []
        pick = np.linspace(0, self.length - 1, self.frames).round().astype(int)
        tracks = [self._tracks[t] for t in ready]
        with_features = all(f is not None for t in tracks for f in t.features)
        results = []
        for name, model in self.models.items():
            if self.from_features[name] and with_features:
                views = np.stack([np.stack(t.features)[pick] for t in tracks])
                scores_list = model.scores_from_feature_views(views)
            else:
                scores_list = model.scores(np.stack([np.stack(t.crops)[pick] for t in tracks]))
            for track_id, track, scores in zip(ready, tracks, scores_list):
                top = int(np.argmax(scores))
                results.append(ClipResult(track_id, name, track.stamps[0], track.stamps[-1], self.frames,
                                          model.labels[top], float(scores[top]), scores))
        for track in tracks:
            track.since_classified = 0
            track.classified = True
        return results
