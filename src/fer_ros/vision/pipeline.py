"""The per-frame pipeline shared by the emotion node, the runner, evaluation and benchmarks:
detect -> align -> classify -> track."""

from dataclasses import dataclass

import numpy as np

from fer_ros.vision.align import AlignedFace, FaceAligner
from fer_ros.vision.classify import EmotionClassifier
from fer_ros.vision.track import IouTracker


@dataclass(frozen=True)
class FaceResult:
    """One face of one frame, with its expression."""

    track_id: int
    face: AlignedFace
    label: str
    confidence: float
    scores: np.ndarray
    features: np.ndarray | None = None  # the image model's feature maps (views x map: the face, its mirror)


class EmotionPipeline:
    """`detect_every` N: the detector runs on every Nth frame (and whenever no face is being
    followed); in between, the faces of the last frame are looked for only around their last
    boxes (`FaceAligner.follow`). A frame of another size than the last starts afresh: full
    detection, tracks retired (their boxes belong to another image)."""

    def __init__(self, aligner: FaceAligner, classifier: EmotionClassifier,
                 tracker: IouTracker | None = None, detect_every: int = 1):
        self.aligner = aligner
        self.classifier = classifier
        self.tracker = tracker or IouTracker()
        self.detect_every = detect_every
        self._frames_since_detection = 0
        self._last: list[AlignedFace] = []
        self._shape: tuple[int, ...] = ()

    @property
    def labels(self) -> tuple[str, ...]:
        return self.classifier.labels

    def reset(self) -> None:
        """Start afresh: the next frame gets a full detection and new track ids (a stream that
        jumped back in time, another image size)."""
        self._shape, self._last, self._frames_since_detection = (), [], 0
        self.tracker.reset()

    def process(self, image: np.ndarray) -> list[FaceResult]:
        if image.shape[:2] != self._shape:  # another camera mode, or garbage: old boxes say nothing here
            self.reset()
            self._shape = image.shape[:2]
        self._frames_since_detection += 1
        if self._last and self._frames_since_detection < self.detect_every:
            faces = self.aligner.follow(image, self._last)
        else:
            faces = self.aligner.faces(image)
            self._frames_since_detection = 0
        self._last = faces
        return classify_faces(self.classifier, faces, self.tracker.update([f.box for f in faces]))


def classify_faces(classifier: EmotionClassifier, faces: list[AlignedFace], ids: list[int]) -> list[FaceResult]:
    """Aligned faces classified in one batch, each under its track id; with the image model's
    feature maps where it gives them (the clip stage reads them)."""
    if not faces:
        return []
    crops = [f.crop for f in faces]
    if classifier.gives_features:  # computed with the scores anyway
        scores, features = classifier.scores_and_feature_views(crops)
    else:
        scores, features = classifier.scores(crops), [None] * len(faces)
    results = []
    for track_id, face, s, f in zip(ids, faces, scores, features):
        top = int(np.argmax(s))
        results.append(FaceResult(track_id, face, classifier.labels[top], float(s[top]), s, f))
    return results
