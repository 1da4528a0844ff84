"""The stage interfaces. Each stage of the pipeline is a small class behind one of these Protocols,
so camera kinds and inference backends can be swapped, and faked in tests."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from inspect_app.types import CommittedInspection, Decision, Detection, Frame, Inspection, StatusEvent


class SourceError(Exception):
    """The source cannot deliver frames (device gone, stream down, timeout). Recoverable by reopening."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class CorruptFrame(Exception):
    """One frame could not be decoded, or was refused unread (``code`` IMAGE_TOO_LARGE); the source itself is
    fine and the next read may succeed. The part is recorded NOT_INSPECTED with ``code``."""

    def __init__(self, origin: str, message: str, code: str = "IMAGE_CORRUPT") -> None:
        super().__init__(f"{origin}: {message}")
        self.origin = origin
        self.code = code


class SourceExhausted(Exception):
    """A finite source (a folder read once, a video file) has no more frames."""


@runtime_checkable
class FrameSource(Protocol):
    name: str

    def open(self) -> None:
        """Connect; raises SourceError with a reason the operator can act on."""

    def read(self, timeout: float) -> Frame:
        """Next frame. Raises SourceError, CorruptFrame or SourceExhausted."""

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class ModelInfo:
    model_id: str  # "<name>/<version>"
    name: str
    version: str
    sha256: str  # of the file the backend runs
    names: tuple[str, ...]
    imgsz: tuple[int, int]  # h, w
    path: str
    backend: str
    precision: str = "f32"  # what the runtime really computes in: f32, bf16 or int8


@runtime_checkable
class Detector(Protocol):
    info: ModelInfo

    def detect(self, image: np.ndarray, conf: float, iou: float) -> list[Detection]:
        """Detections in original-image pixels for one BGR uint8 image."""

    def close(self) -> None: ...


class Decider(Protocol):
    def decide(self, detections: Sequence[Detection], image_shape: tuple[int, int]) -> Decision: ...


CommitListener = Callable[[CommittedInspection], None]
EventListener = Callable[[StatusEvent], None]


class ResultStore(Protocol):
    def start(self) -> None: ...

    def submit(self, inspection: Inspection) -> None:
        """Queue for the writer thread; blocks when the queue is full (never drops)."""

    def record_event(self, event: StatusEvent) -> None: ...

    def add_commit_listener(self, listener: CommitListener) -> None: ...

    def close(self, timeout: float = 30.0) -> None:
        """Flush everything queued, commit, and close the connection."""


class SignalSink(Protocol):
    """Where committed results go after the DB commit: the PLC/MES link, the UI, a log."""

    def on_result(self, result: CommittedInspection) -> None: ...

    def on_event(self, event: StatusEvent) -> None: ...
