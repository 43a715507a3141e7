"""Counters and recent timings of a node, for its diagnostics (no ROS here)."""

import threading
import time
from collections import Counter, deque

import numpy as np


class FrameStats:
    """Thread-safe: the image callback, the worker and the diagnostics timer all touch it."""

    def __init__(self, window: int = 300):
        self._lock = threading.Lock()
        self.processed = 0
        self.dropped = 0
        self.faces = 0
        self.errors: Counter[str] = Counter()
        self._processing_ms: deque[float] = deque(maxlen=window)
        self._latency_ms: deque[float] = deque(maxlen=window)
        self._since = time.monotonic()
        self._processed_since = 0
        self._failed_since = 0

    def frame_done(self, processing_ms: float, latency_ms: float, faces: int) -> None:
        with self._lock:
            self.processed += 1
            self.faces = faces
            self._processing_ms.append(processing_ms)
            self._latency_ms.append(latency_ms)

    def frame_dropped(self) -> None:
        with self._lock:
            self.dropped += 1

    def error(self, kind: str) -> bool:
        """Count a failed frame; True the first time this kind occurs."""
        with self._lock:
            self.errors[kind] += 1
            return self.errors[kind] == 1

    def snapshot(self) -> dict:
        """Figures since the last snapshot (fps, median times) and totals (counts)."""
        with self._lock:
            now = time.monotonic()
            failed = sum(self.errors.values())
            done_recently, failed_recently = self.processed - self._processed_since, failed - self._failed_since
            fps = done_recently / max(now - self._since, 1e-9)
            self._since, self._processed_since, self._failed_since = now, self.processed, failed
            return {
                "fps": fps,
                "done_recently": done_recently,
                "failed_recently": failed_recently,
                "processing_time_ms": float(np.median(self._processing_ms)) if self._processing_ms else 0.0,
                "latency_ms": float(np.median(self._latency_ms)) if self._latency_ms else 0.0,
                "frames_processed": self.processed,
                "frames_dropped": self.dropped,
                "faces": self.faces,
                "errors": dict(self.errors),
            }
