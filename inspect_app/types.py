"""Data passed between pipeline stages.

Every object here is a frozen dataclass: stages run in different threads, and a value that cannot
change after it is handed on cannot be corrupted by the stage that handed it on.
"""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

Box = tuple[float, float, float, float]  # x1, y1, x2, y2 in original-image pixels


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two boxes (0 for empty ones)."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


class Verdict(enum.StrEnum):
    PASS = "PASS"
    FAIL = "FAIL"
    NOT_INSPECTED = "NOT_INSPECTED"


class Severity(enum.StrEnum):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class TruthBox:
    """Ground truth from the synthetic generator (absent for real cameras)."""

    class_id: int
    class_name: str
    box: Box


@dataclass(frozen=True, slots=True)
class Frame:
    """One image from a source.

    ``frame_id`` is monotonic per source for the life of the process; ``captured_at`` is wall-clock
    (for records), ``captured_mono`` is ``time.monotonic()`` (for latencies).
    """

    frame_id: int
    image: np.ndarray  # HxWx3 uint8 BGR
    source: str
    captured_at: float
    captured_mono: float
    truth: tuple[TruthBox, ...] | None = None
    origin: str | None = None  # file name, URL or device the frame came from


@dataclass(frozen=True, slots=True)
class Detection:
    class_id: int
    class_name: str
    confidence: float
    box: Box

    @property
    def area(self) -> float:
        x1, y1, x2, y2 = self.box
        return max(0.0, x2 - x1) * max(0.0, y2 - y1)


@dataclass(frozen=True, slots=True)
class Reason:
    """Why a part failed or was not inspected; one per offending detection or error."""

    code: str  # e.g. "DEFECT", "COUNT_EXCEEDED", "CAMERA_ERROR", "IMAGE_CORRUPT"
    message: str
    class_name: str | None = None
    confidence: float | None = None
    box: Box | None = None
    count: int | None = None  # COUNT_EXCEEDED: defects of this class found, and how many the recipe allows
    limit: int | None = None

    def as_dict(self) -> dict[str, Any]:
        d = {
            "code": self.code,
            "message": self.message,
            "class_name": self.class_name,
            "confidence": None if self.confidence is None else round(self.confidence, 4),
            "box": None if self.box is None else [round(v, 1) for v in self.box],
        }
        if self.count is not None:
            d.update(count=self.count, limit=self.limit)
        return d


@dataclass(frozen=True, slots=True)
class Decision:
    verdict: Verdict
    reasons: tuple[Reason, ...] = ()
    error_code: str | None = None  # set for NOT_INSPECTED


@dataclass(frozen=True, slots=True)
class PartRequest:
    """A part to inspect: one trigger (software, external/PLC) or one free-run tick."""

    part_id: str
    trigger_id: int
    trigger_source: str  # "free_run" | "software" | "external"
    requested_at: float
    requested_mono: float
    recipe: str


@dataclass(frozen=True, slots=True)
class Inspection:
    """The complete record of one part, as handed to the store and then to the signal stage."""

    part_id: str
    trigger_id: int
    trigger_source: str
    station: str
    recipe: str
    model_id: str | None
    model_sha256: str | None
    decision: Decision
    detections: tuple[Detection, ...]
    timings_ms: dict[str, float]  # per stage: acquire, detect, decide, record (signal added after commit)
    frame_id: int | None
    captured_at: float
    source: str
    image: np.ndarray | None = field(default=None, repr=False)
    origin: str | None = None

    @property
    def verdict(self) -> Verdict:
        return self.decision.verdict


@dataclass(frozen=True, slots=True)
class CommittedInspection:
    """An inspection after its row is committed to SQLite; only these may be signalled to a PLC."""

    inspection_id: int
    inspection: Inspection
    image_path: str | None
    committed_mono: float


@dataclass(frozen=True, slots=True)
class StatusEvent:
    """Status is data: the UI, the log, the DB and the PLC all read the same events."""

    kind: str  # e.g. "state", "source", "recipe", "store", "disk", "supervisor"
    severity: Severity
    message: str
    payload: dict[str, Any] = field(default_factory=dict)
    time: float = field(default_factory=time.time)
