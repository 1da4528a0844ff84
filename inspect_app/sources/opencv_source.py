"""Live cameras and streams through OpenCV: a device index, an RTSP or HTTP URL (video files: video_file.py).

A grabber thread reads the camera continuously and keeps only the newest frame, as frigate and roboflow
inference do: OpenCV (and the driver under it) buffers frames, and a reader slower than the camera would
otherwise be handed an ever older backlog (27 s old after a minute of a 10 fps camera read at 5 Hz). So
``read`` returns the newest frame not handed out before, stamped with the time it was grabbed, and the
station judges its age against the part's trigger (``max_frame_age_ms``).

Because the thread runs whatever the trigger rate, the camera's health is known all the time: a closed
link is seen at once, a silent one after ``frame_timeout_ms``, and the supervisor reads ``status()`` a few
times a second. A picture that stops changing (a stalled encoder sends the same image again and again) is
FROZEN after ``stale_after`` repeats and stays FROZEN, across reconnects, until ``stale_clear_after`` new,
different frames in a row have arrived. A frame identical to the one before it is never handed out, even
before the repeats add up to FROZEN: it is not a new picture of anything.

An HTTP URL that serves MJPEG is read by ``mjpeg_http.MjpegHttpCapture`` instead of OpenCV, so each frame is
decoded strictly: a damaged JPEG reaches the station as a ``CorruptFrame`` (its part NOT_INSPECTED), where
FFmpeg would have concealed the damage. ``stale_after`` damaged frames in a row make the camera DAMAGED, an
Error like a frozen picture, until ``stale_clear_after`` good frames in a row. RTSP and device streams go
through OpenCV/FFmpeg, which conceals damaged video frames without telling; that is a limit of this path.
"""

from __future__ import annotations

import logging
import threading
import time
import zlib

import cv2
import numpy as np

from inspect_app.config import OpenCVSourceConfig
from inspect_app.protocols import CorruptFrame, SourceError
from inspect_app.sources.camera_state import (
    STATE_CODES,
    CameraState,
    CameraStateMachine,
    SourceStatus,
    first_connect_grace,
    frame_age_limit_s,
    frame_timeout_s,
)
from inspect_app.sources.mjpeg_http import MjpegHttpCapture, is_http
from inspect_app.types import Frame

log = logging.getLogger(__name__)

SETTLE_FRAMES = 2  # frames after a (re)connect before the camera counts as streaming again
_POLL_S = 0.05


def _fingerprint(image: np.ndarray) -> int:
    # a strided sample keeps this well under a millisecond for full-HD frames
    return zlib.crc32(np.ascontiguousarray(image[::7, ::7]).data)


class OpenCVSource:
    """A ``FrameSource`` over ``cv2.VideoCapture`` for live sources, with a newest-frame grabber thread."""

    reconnects_itself = True  # the grabber reconnects with backoff; the pipeline need not call open() again

    def __init__(self, config: OpenCVSourceConfig, name: str = "camera") -> None:
        self.config = config
        self.name = name
        self.reconnects = 0
        self._sm = CameraStateMachine(self._on_state)
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._cap: cv2.VideoCapture | MjpegHttpCapture | None = None
        self._code: str | None = "NOT_OPEN"
        self._message = "not opened yet"
        self._connecting_since = 0.0
        self._next_attempt = 0.0
        self._backoff = config.reconnect_min_s
        # newest frame, handed out once
        self._image: np.ndarray | None = None
        self._corrupt: CorruptFrame | None = None  # the newest "frame" was a damaged one
        self.corrupt_frames = 0
        self._grabbed_at = (0.0, 0.0)  # (wall, monotonic)
        self._seq = 0
        self._consumed = 0
        self._frame_id = 0
        self._frames = 0
        # picture progress
        self._last_print: int | None = None
        self._repeats = 0
        self._fresh = 0
        self._frozen = False
        self._damaged_run = 0  # damaged frames in a row
        self._damaged = False
        self._settle = 0
        self._period: float | None = None
        self._last_frame_mono: float | None = None
        self._ever_streamed = False

    # ------------------------------------------------------------------ FrameSource
    def open(self) -> None:
        """Start grabbing (once) and wait for the camera to deliver; raises SourceError if it does not
        within ``open_timeout_s``. The grabber keeps trying in the background either way."""
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name=f"{self.name}-grabber", daemon=True)
            self._thread.start()
        deadline = time.monotonic() + self.config.open_timeout_s + 1.0
        with self._cond:
            while time.monotonic() < deadline:
                state = self._sm.state
                if state in (CameraState.STREAMING, CameraState.FROZEN, CameraState.DAMAGED):
                    return
                if state == CameraState.LOST and self._code in ("OPEN_FAILED", "OPEN_TIMEOUT"):
                    raise SourceError(self._code, self._message)
                self._cond.wait(_POLL_S)
        raise SourceError("OPEN_TIMEOUT", f"{self._label()}: no frame within {self.config.open_timeout_s}s")

    def read(self, timeout: float) -> Frame:
        """The newest frame not handed out before; waits up to ``timeout`` for one."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                self._check_starved(time.monotonic())
                state = self._sm.state
                if state in (CameraState.LOST, CameraState.CLOSED, CameraState.FROZEN, CameraState.DAMAGED):
                    raise SourceError(self._code or STATE_CODES[state], self._message)
                fresh = state == CameraState.STREAMING and self._seq > self._consumed
                if fresh and self._corrupt is not None:
                    self._consumed = self._seq
                    raise self._corrupt
                if fresh and self._image is not None:
                    self._consumed = self._seq
                    self._frame_id += 1
                    wall, mono = self._grabbed_at
                    return Frame(
                        frame_id=self._frame_id,
                        image=self._image,
                        source=self.name,
                        captured_at=wall,
                        captured_mono=mono,
                        origin=str(self.config.uri),
                    )
                left = deadline - time.monotonic()
                if left <= 0:
                    code = "READ_TIMEOUT" if state == CameraState.STREAMING else STATE_CODES[state]
                    if self._repeats:
                        code = "STALE"  # frames arrive, but the same picture again and again
                    raise SourceError(code, f"{self._label()}: no new frame within {timeout:g}s ({state})")
                self._cond.wait(min(left, _POLL_S))

    def close(self) -> None:
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            # a driver stuck in grab() cannot be interrupted; the daemon thread is left to it
            thread.join(self.config.read_timeout_s + 1.0)
        self._thread = None
        with self._cond:
            self._release()
            self._sm.to(CameraState.CLOSED, "closed")
            self._code, self._message = "NOT_OPEN", f"{self._label()}: closed"
            self._image = None

    # ------------------------------------------------------------------ health
    @property
    def frame_period_s(self) -> float | None:
        if self.config.fps:
            return 1.0 / self.config.fps
        return self._period

    @property
    def frame_age_limit_s(self) -> float:
        """The oldest a frame may be at its part's trigger (``max_frame_age_ms``, or 3 frame periods)."""
        return frame_age_limit_s(self.config.max_frame_age_ms, self.frame_period_s)

    @property
    def frame_timeout_s(self) -> float:
        return frame_timeout_s(self.config.frame_timeout_ms, self.frame_period_s, self.config.open_timeout_s)

    def status(self) -> SourceStatus:
        now = time.monotonic()
        with self._cond:
            self._check_starved(now)
            state = self._sm.state
            age = None if self._last_frame_mono is None else now - self._last_frame_mono
            ok = first_connect_grace(
                state, self._ever_streamed, self._connecting_since, self.config.open_timeout_s, now
            )
            return SourceStatus(
                state=state,
                ok=ok,
                code=None if ok else (self._code or STATE_CODES.get(state)),
                message=self._message if not ok else f"{self._label()}: streaming",
                frames=self._frames,
                fps=None if not self._period else round(1.0 / self._period, 2),
                last_frame_age_s=age,
                reconnects=self.reconnects,
            )

    # ------------------------------------------------------------------ grabber thread
    def _label(self) -> str:
        return f"camera {self.name} ({self.config.uri})"

    def _on_state(self, old: CameraState, new: CameraState, why: str) -> None:
        level = logging.INFO if new in (CameraState.STREAMING, CameraState.CONNECTING) else logging.WARNING
        log.log(level, "%s: %s -> %s (%s)", self._label(), old, new, why)

    def _run(self) -> None:
        while not self._stop.is_set():
            if self._cap is None:
                wait = self._next_attempt - time.monotonic()
                if wait > 0:
                    self._stop.wait(min(wait, _POLL_S))
                    continue
                self._connect()
                continue
            cap = self._cap
            ok = cap.grab()
            if self._stop.is_set():
                return
            if not ok:
                self._lose("READ_FAILED", "no frame (link lost or device unplugged)")
                continue
            try:
                ok, image = cap.retrieve()
            except CorruptFrame as exc:
                self._on_corrupt(exc)
                continue
            if not ok or image is None or image.size == 0:
                self._lose("DECODE_FAILED", "frame could not be decoded")
                continue
            self._on_frame(image)

    def _connect(self) -> None:
        with self._cond:
            if self._sm.state in (CameraState.CLOSED, CameraState.LOST):
                self._sm.to(CameraState.CONNECTING, "opening")
            self._connecting_since = time.monotonic()
        params = [
            cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
            int(self.config.open_timeout_s * 1000),
            cv2.CAP_PROP_READ_TIMEOUT_MSEC,
            int(self.config.read_timeout_s * 1000),
        ]
        started = time.monotonic()
        cap: cv2.VideoCapture | MjpegHttpCapture | None = None
        if is_http(self.config.uri):
            try:
                cap = MjpegHttpCapture.connect(
                    str(self.config.uri), self.config.open_timeout_s, self.config.read_timeout_s
                )
            except SourceError as exc:
                self._lose(exc.code, str(exc).split(": ", 1)[-1])
                return
        if cap is None:
            cap = cv2.VideoCapture(self.config.uri, cv2.CAP_ANY, params)
        if not cap.isOpened():
            cap.release()
            took = time.monotonic() - started
            code = "OPEN_TIMEOUT" if took >= self.config.open_timeout_s else "OPEN_FAILED"
            self._lose(code, "cannot be opened")
            return
        for prop, value in (
            (cv2.CAP_PROP_FRAME_WIDTH, self.config.width),
            (cv2.CAP_PROP_FRAME_HEIGHT, self.config.height),
            (cv2.CAP_PROP_FPS, self.config.fps),
        ):
            if value:
                cap.set(prop, value)
        with self._cond:
            if self._stop.is_set():
                cap.release()
                return
            self._cap = cap
            self._settle = 0
            self._last_frame_mono = None
            self._code, self._message = "CONNECTING", f"{self._label()}: connected, waiting for frames"
            self._cond.notify_all()

    def _lose(self, code: str, message: str) -> None:
        """Drop the connection and schedule a reconnect with exponential backoff."""
        with self._cond:
            self._release()
            retry = self._backoff
            self._next_attempt = time.monotonic() + retry
            self._backoff = min(self._backoff * 2, self.config.reconnect_max_s)
            self._code = code
            self._message = f"{self._label()}: {message} (retry in {retry:.1f}s)"
            if self._sm.state != CameraState.CLOSED:
                self._sm.to(CameraState.LOST, message)
            self._cond.notify_all()

    def _release(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None

    def _check_starved(self, now: float) -> None:
        """Called with the lock held: frames stopped without the link closing (the grab call is blocked)."""
        state = self._sm.state
        alive = (CameraState.STREAMING, CameraState.FROZEN, CameraState.DAMAGED)
        if state not in alive or self._last_frame_mono is None:
            return
        silent = now - self._last_frame_mono
        if silent > self.frame_timeout_s:
            self._code = "NO_FRAMES"
            self._message = (
                f"{self._label()}: no frame for {silent:.1f}s (frame timeout {self.frame_timeout_s:g}s)"
            )
            self._sm.to(CameraState.LOST, "no frames")
            self._cond.notify_all()

    def _on_corrupt(self, exc: CorruptFrame) -> None:
        """A damaged frame is the newest "frame": the part that would have got it is recorded corrupt."""
        with self._cond:
            self.corrupt_frames += 1
            self._last_frame_mono = time.monotonic()  # the camera is alive; its picture is not usable
            self._damaged_run += 1
            self._fresh = 0
            if self._sm.state == CameraState.STREAMING:
                self._image, self._corrupt = None, exc
                self._seq += 1
            if not self._damaged and self._damaged_run >= self.config.stale_after:
                self._damaged = True
                self._code = "DAMAGED_FRAMES"
                self._message = f"{self._label()}: {self._damaged_run} damaged frames in a row ({exc})"
                if self._sm.state in (CameraState.STREAMING, CameraState.CONNECTING, CameraState.FROZEN):
                    self._sm.to(CameraState.DAMAGED, "damaged frames")
            self._cond.notify_all()

    def _on_frame(self, image: np.ndarray) -> None:
        now, wall = time.monotonic(), time.time()
        if image.ndim == 2:
            image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
        fp = _fingerprint(image)
        with self._cond:
            if self._last_frame_mono is not None:
                gap = now - self._last_frame_mono
                self._period = gap if self._period is None else 0.9 * self._period + 0.1 * gap
            self._last_frame_mono = now
            self._frames += 1
            same = fp == self._last_print
            self._last_print = fp
            self._repeats = self._repeats + 1 if same else 0
            self._fresh = 0 if same else self._fresh + 1
            self._damaged_run = 0
            if self._damaged and self._fresh >= self.config.stale_clear_after:
                self._damaged = False
                log.info("%s: frames decode again (%d good frames)", self._label(), self._fresh)
            if not self._frozen and self._repeats >= self.config.stale_after:
                self._frozen = True
                self._message = (
                    f"{self._label()}: {self._repeats + 1} identical frames in a row: the image is frozen"
                )
            elif self._frozen and self._fresh >= self.config.stale_clear_after:
                self._frozen = False
                log.info("%s: picture moving again (%d new frames)", self._label(), self._fresh)
            self._settle += 1
            state = self._sm.state
            if state == CameraState.LOST:  # frames again after a silence (NO_FRAMES) on the same link
                self._sm.to(CameraState.CONNECTING, "frames again")
                self._settle = 1
                state = CameraState.CONNECTING
            if self._frozen:
                self._code = "STALE"
                self._sm.to(CameraState.FROZEN, "picture frozen")
            elif self._damaged:
                self._code = "DAMAGED_FRAMES"
                self._sm.to(CameraState.DAMAGED, "damaged frames")
            elif self._settle >= SETTLE_FRAMES:
                if state == CameraState.CONNECTING and self._ever_streamed:
                    self.reconnects += 1
                self._ever_streamed = True
                self._code = None
                self._backoff = self.config.reconnect_min_s
                self._sm.to(CameraState.STREAMING, "frames arriving")
            if not same:  # a repeated picture is not a new one: never handed out as a part's frame
                self._image, self._corrupt = image, None
                self._grabbed_at = (wall, now)
                self._seq += 1
            self._cond.notify_all()
