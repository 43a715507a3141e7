"""The class list shared by training, evaluation, the model files and the messages."""

LABELS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
