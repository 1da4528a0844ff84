"""Stage bookkeeping shared by the pipeline and its supervisor.

Back-pressure policy, per queue (the station never drops a triggered part silently):

* ``triggers`` (software/external triggers waiting for a frame), bounded by ``trigger.queue_size``:
  a trigger that finds it full is recorded at once as NOT_INSPECTED with ``OVERRUN`` and counted as a
  missed trigger. In free-run there is no trigger queue: the acquire stage paces itself.
* ``detect`` (frames waiting for inference), bounded by ``pipeline.detect_queue``: the acquire stage
  blocks when it is full, so a slow model slows acquisition instead of piling up frames.
* the store's queue, bounded by ``store.queue_size``: the detect stage blocks when it is full.
* ``signal`` (committed results waiting for the PLC/UI sinks): unbounded, because the store's writer
  must never block on a sink; the signal worker's progress is watched by the supervisor like any stage's.

While the station is in Error, a trigger skips inference and is recorded NOT_INSPECTED at once. A trigger
never blocks its caller (the PLC link's event loop, the control socket): what cannot be queued is recorded
NOT_INSPECTED through the store's non-blocking path.

A part whose stage the supervisor declared stuck is recorded NOT_INSPECTED ``STAGE_STALLED`` even if the
stage finishes it later: the line was told about the stall while that part was in hand.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field


@dataclass
class StageMonitor:
    """What one worker is doing right now; the supervisor reads it to notice a stuck stage."""

    name: str
    busy_since: float | None = None
    part_id: str | None = None
    processed: int = 0
    stalled_part: str | None = None  # set by the supervisor: the part in hand when it declared a stall
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def begin(self, part_id: str | None) -> None:
        with self._lock:
            self.busy_since = time.monotonic()
            self.part_id = part_id
            self.stalled_part = None

    def end(self) -> None:
        with self._lock:
            self.busy_since = None
            self.part_id = None
            self.processed += 1

    def flag_stalled(self) -> str | None:
        """The supervisor's mark on the part in hand; returns it."""
        with self._lock:
            if self.busy_since is not None:
                self.stalled_part = self.part_id or "?"
            return self.stalled_part

    def was_stalled(self) -> bool:
        with self._lock:
            return self.stalled_part is not None

    def stuck_for(self, now: float) -> tuple[float, str | None]:
        with self._lock:
            if self.busy_since is None:
                return 0.0, None
            return now - self.busy_since, self.part_id


@dataclass(frozen=True, slots=True)
class StageTimes:
    """Monotonic timestamps of one part through the stages (seconds)."""

    requested: float
    acquired: float
    detect_start: float
    detected: float
    decided: float

    def as_ms(self) -> dict[str, float]:
        return {
            "acquire": (self.acquired - self.requested) * 1000,
            "queue": (self.detect_start - self.acquired) * 1000,
            "detect": (self.detected - self.detect_start) * 1000,
            "decide": (self.decided - self.detected) * 1000,
            "total": (self.decided - self.requested) * 1000,
        }
