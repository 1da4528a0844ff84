"""A video file replayed through OpenCV: every frame in order, optionally looping.

Unlike a live camera, a file has no "newest" frame: the station wants each frame once, in order, so frames
are read on demand. A position that stops advancing means a broken file (or a driver handing back the last
frame again), and is reported after ``stale_after`` repeats.
"""

from __future__ import annotations

import time

import cv2
import numpy as np

from inspect_app.config import OpenCVSourceConfig
from inspect_app.protocols import SourceError, SourceExhausted
from inspect_app.types import Frame


class VideoFileSource:
    def __init__(self, config: OpenCVSourceConfig, name: str = "camera") -> None:
        self.config = config
        self.name = name
        self._cap: cv2.VideoCapture | None = None
        self._frame_id = 0
        self._last_pos: float | None = None
        self._repeats = 0

    def _label(self) -> str:
        return f"video {self.name} ({self.config.uri})"

    def open(self) -> None:
        self.close()
        cap = cv2.VideoCapture(str(self.config.uri))
        if not cap.isOpened():
            cap.release()
            raise SourceError("OPEN_FAILED", f"{self._label()}: cannot be opened")
        self._cap = cap
        self._last_pos = None
        self._repeats = 0

    def read(self, timeout: float) -> Frame:
        cap = self._cap
        if cap is None:
            raise SourceError("NOT_OPEN", f"{self._label()} is not open")
        ok = cap.grab()
        if not ok and self.config.loop and self._frame_id:
            cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            self._last_pos = None
            ok = cap.grab()
        if not ok:
            self.close()
            raise SourceExhausted(f"{self._label()}: end of video file")
        ok, image = cap.retrieve()
        if not ok or image is None or image.size == 0:
            raise SourceError("DECODE_FAILED", f"{self._label()}: frame could not be decoded")
        pos = cap.get(cv2.CAP_PROP_POS_FRAMES)
        self._repeats = self._repeats + 1 if pos == self._last_pos else 0
        self._last_pos = pos
        if self._repeats >= self.config.stale_after:
            raise SourceError("STALE", f"{self._label()}: position stuck at frame {pos:.0f}")
        if image.ndim == 2:
            image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
        self._frame_id += 1
        return Frame(
            frame_id=self._frame_id,
            image=np.ascontiguousarray(image),
            source=self.name,
            captured_at=time.time(),
            captured_mono=time.monotonic(),
            origin=str(self.config.uri),
        )

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None
