"""Cameras and streams through OpenCV: a device index, a video file, an RTSP or HTTP URL.

OpenCV's ``read()`` returning True does not mean a new frame arrived: some drivers and stream decoders
hand back the last frame again when the link stalls. So staleness is judged by progress (the frame
position for files, a content fingerprint for live sources), not by the return flag.
"""

from __future__ import annotations

import logging
import threading
import time
import zlib

import cv2
import numpy as np

from inspect_app.config import OpenCVSourceConfig
from inspect_app.protocols import SourceError, SourceExhausted
from inspect_app.types import Frame

log = logging.getLogger(__name__)


def _fingerprint(image: np.ndarray) -> int:
    # a strided sample keeps this well under a millisecond for full-HD frames
    return zlib.crc32(np.ascontiguousarray(image[::7, ::7]).data)


class OpenCVSource:
    """A ``FrameSource`` over ``cv2.VideoCapture`` with timeouts, stale detection and reconnect."""

    reconnects_itself = True  # read() reopens with backoff; the pipeline need not call open() again

    def __init__(self, config: OpenCVSourceConfig, name: str = "camera") -> None:
        self.config = config
        self.name = name
        self._cap: cv2.VideoCapture | None = None
        self._frame_id = 0
        self._last_print: int | None = None
        self._last_pos: float | None = None
        self._repeats = 0
        self._backoff = config.reconnect_min_s
        self._next_attempt = 0.0
        self._is_file = isinstance(config.uri, str) and "://" not in config.uri
        self.reconnects = 0

    # -- connection
    def open(self) -> None:
        self._release()
        cap = self._open_with_timeout()
        for prop, value in (
            (cv2.CAP_PROP_FRAME_WIDTH, self.config.width),
            (cv2.CAP_PROP_FRAME_HEIGHT, self.config.height),
            (cv2.CAP_PROP_FPS, self.config.fps),
        ):
            if value:
                cap.set(prop, value)
        self._cap = cap
        self._last_print = None
        self._last_pos = None
        self._repeats = 0
        self._backoff = self.config.reconnect_min_s

    def _open_with_timeout(self) -> cv2.VideoCapture:
        uri = self.config.uri
        params = [
            cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
            int(self.config.open_timeout_s * 1000),
            cv2.CAP_PROP_READ_TIMEOUT_MSEC,
            int(self.config.read_timeout_s * 1000),
        ]
        result: dict[str, cv2.VideoCapture] = {}

        def _open() -> None:
            result["cap"] = cv2.VideoCapture(uri, cv2.CAP_ANY, params)

        # not every backend honours the open timeout (V4L2 ignores it); a thread bounds the wait for all
        opener = threading.Thread(target=_open, name=f"{self.name}-open", daemon=True)
        opener.start()
        opener.join(self.config.open_timeout_s + 1.0)
        cap = result.get("cap")
        if cap is None:
            raise SourceError(
                "OPEN_TIMEOUT", f"{self._label()}: no answer within {self.config.open_timeout_s}s"
            )
        if not cap.isOpened():
            cap.release()
            raise SourceError("OPEN_FAILED", f"{self._label()}: cannot be opened")
        return cap

    def _label(self) -> str:
        return f"camera {self.name} ({self.config.uri})"

    def _release(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None

    def _fail(self, code: str, message: str) -> SourceError:
        """Drop the connection and schedule a reconnect with exponential backoff."""
        self._release()
        self._next_attempt = time.monotonic() + self._backoff
        self._backoff = min(self._backoff * 2, self.config.reconnect_max_s)
        return SourceError(code, f"{self._label()}: {message}")

    def _reconnect(self) -> None:
        wait = self._next_attempt - time.monotonic()
        if wait > 0:
            raise SourceError("DISCONNECTED", f"{self._label()}: disconnected, next reconnect in {wait:.1f}s")
        backoff = self._backoff
        try:
            self.open()
        except SourceError as exc:
            self._next_attempt = time.monotonic() + backoff
            self._backoff = min(backoff * 2, self.config.reconnect_max_s)
            raise SourceError(exc.code, f"{exc} (retry in {backoff:.1f}s)") from None
        self.reconnects += 1
        log.info("%s reconnected (attempt %d)", self._label(), self.reconnects)

    # -- frames
    def read(self, timeout: float) -> Frame:
        if self._cap is None:
            self._reconnect()
        cap = self._cap
        assert cap is not None
        started = time.monotonic()
        ok = cap.grab()
        if not ok:
            if self._is_file:
                if self.config.loop and self._frame_id:
                    cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
                    ok = cap.grab()
                if not ok:
                    self._release()
                    raise SourceExhausted(f"{self._label()}: end of video file")
            else:
                raise self._fail("READ_FAILED", "no frame (link lost or device unplugged)")
        ok, image = cap.retrieve()
        if not ok or image is None or image.size == 0:
            raise self._fail("DECODE_FAILED", "frame could not be decoded")
        if time.monotonic() - started > max(timeout, self.config.read_timeout_s):
            raise self._fail("READ_TIMEOUT", f"frame took longer than {self.config.read_timeout_s}s")
        self._check_progress(cap, image)
        if image.ndim == 2:
            image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
        self._frame_id += 1
        return Frame(
            frame_id=self._frame_id,
            image=image,
            source=self.name,
            captured_at=time.time(),
            captured_mono=time.monotonic(),
            origin=str(self.config.uri),
        )

    def _check_progress(self, cap: cv2.VideoCapture, image: np.ndarray) -> None:
        if self._is_file:
            pos = cap.get(cv2.CAP_PROP_POS_FRAMES)
            stalled = self._last_pos is not None and pos == self._last_pos
            self._last_pos = pos
        else:
            fp = _fingerprint(image)
            stalled = fp == self._last_print
            self._last_print = fp
        self._repeats = self._repeats + 1 if stalled else 0
        if self._repeats >= self.config.stale_after:
            raise self._fail("STALE", f"{self._repeats + 1} identical frames in a row: the image is frozen")

    def close(self) -> None:
        self._release()
