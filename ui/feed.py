"""The hand-over from the station's threads to the Qt thread.

The station calls ``on_result``/``on_event`` on its signal thread after each DB commit; futures of reviews
and audit rows complete on the store's writer thread. None of them may touch a widget, and none may wait:
they only put data here, under a lock, in O(1). The window's display timer drains it at <= 30 fps with
``take()``: the live view shows only the newest result (older frames in between are never converted or
drawn, so a 200 parts/s line costs the Qt thread no more than a 5 parts/s one), while the shift statistics
(defects per class, cycle times) are updated here for every result, so none is lost to the coalescing.
"""

from __future__ import annotations

import threading
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

from inspect_app.types import CommittedInspection, StatusEvent, Verdict

CYCLE_HISTORY = 600  # parts in the cycle-time trend


@dataclass(frozen=True, slots=True)
class FeedBatch:
    latest: CommittedInspection | None  # newest result since the last take(), if any
    new_results: int
    events: list[StatusEvent]
    posts: list[Any]  # completions handed over from other threads (see post())


@dataclass
class ShiftStats:
    """Since start or the last counter reset: failed parts per class and the cycle-time trend."""

    defects: Counter[str] = field(default_factory=Counter)
    cycle_ms: deque[float] = field(default_factory=lambda: deque(maxlen=CYCLE_HISTORY))
    version: int = 0  # bumped on every change, so the charts repaint only when something changed


class StationFeed:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._latest: CommittedInspection | None = None
        self._new = 0
        self._events: deque[StatusEvent] = deque(maxlen=500)
        self._posts: deque[Any] = deque(maxlen=500)
        self._stats = ShiftStats()
        self.results_seen = 0  # since this feed was made, whatever the counters say

    # ---------------------------------------------------------------- any thread
    def on_result(self, result: CommittedInspection) -> None:
        insp = result.inspection
        classes = {r.class_name for r in insp.decision.reasons if r.class_name}
        cycle = insp.timings_ms.get("total")
        with self._lock:
            self._latest = result
            self._new += 1
            self.results_seen += 1
            if insp.verdict == Verdict.FAIL:
                self._stats.defects.update(classes)
            if cycle is not None:
                self._stats.cycle_ms.append(float(cycle))
            self._stats.version += 1

    def on_event(self, event: StatusEvent) -> None:
        with self._lock:
            self._events.append(event)

    def post(self, item: Any) -> None:
        with self._lock:
            self._posts.append(item)

    # ---------------------------------------------------------------- Qt thread
    def take(self) -> FeedBatch:
        with self._lock:
            batch = FeedBatch(self._latest if self._new else None, self._new, list(self._events),
                              list(self._posts))
            self._new = 0
            self._events.clear()
            self._posts.clear()
        return batch

    def stats(self) -> tuple[int, dict[str, int], list[float]]:
        with self._lock:
            s = self._stats
            return s.version, dict(s.defects), list(s.cycle_ms)

    def reset_stats(self) -> None:
        with self._lock:
            version = self._stats.version + 1
            self._stats = ShiftStats(version=version)
